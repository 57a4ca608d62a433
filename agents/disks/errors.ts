// Typed errors of the disks driver. Each carries a CamelCase `reason` the controller copies into a condition
// verbatim and `permanent`: true means retrying with the same spec cannot help (the VM or Image goes Failed /
// Stalled), false means the node could not do it right now (Ready=False, retry shortly), as agents/README.md
// asks of every driver.
export abstract class DiskDriverError extends Error {
  abstract readonly reason: string;
  abstract readonly permanent: boolean;
  constructor(message: string) {
    super(message);
    // The class name in logs and stack traces, not a bare "Error".
    this.name = new.target.name;
  }
}

/** The fetched bytes are not the ones the Image promised; nothing was kept. */
export class ImageChecksumMismatch extends DiskDriverError {
  readonly reason = 'ChecksumMismatch';
  readonly permanent = true;
  constructor(
    readonly source: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`image ${source}: sha256 is ${actual}, expected ${expected}`);
  }
}

/** A source or redirect the driver will not read from (scheme, redirect target, not a regular file). */
export class ImageSourceRefused extends DiskDriverError {
  readonly reason = 'SourceRefused';
  readonly permanent = true;
}

/** The image is larger than the node accepts (Content-Length or bytes actually received). */
export class ImageTooLarge extends DiskDriverError {
  readonly reason = 'ImageTooLarge';
  readonly permanent = true;
}

/** The content is not what its format says (a "qcow2" that is not one, a qcow2 with its own backing file). */
export class ImageInvalid extends DiskDriverError {
  readonly reason = 'InvalidImage';
  readonly permanent = true;
}

/** Download failed for reasons that may pass: connection refused, HTTP 5xx/404, timeout. */
export class ImageFetchFailed extends DiskDriverError {
  readonly reason = 'ImageFetchFailed';
  readonly permanent = false;
}

/** The desired disks are malformed (bad uid, name, size, duplicate names, a kernel image as a disk). */
export class DiskSpecInvalid extends DiskDriverError {
  readonly reason = 'InvalidDiskSpec';
  readonly permanent = true;
}

/** A disk would have to shrink (or an overlay be smaller than its image); qcow2 shrinking loses guest data. */
export class DiskShrinkRefused extends DiskDriverError {
  readonly reason = 'DiskShrinkRefused';
  readonly permanent = true;
  constructor(
    readonly disk: string,
    readonly currentBytes: number,
    readonly desiredBytes: number,
    detail = 'disks only grow',
  ) {
    super(`disk ${disk}: ${desiredBytes} bytes asked, ${currentBytes} bytes present; ${detail}`);
  }
}

/** An existing disk is an overlay of another image than desired (or blank where an overlay is wanted). Never recreated: it holds guest data. */
export class DiskBackingMismatch extends DiskDriverError {
  readonly reason = 'DiskBackingMismatch';
  readonly permanent = true;
}

/** qemu-img or the filesystem failed (missing binary, disk full, image locked by a running QEMU). */
export class DisksUnavailable extends DiskDriverError {
  readonly reason = 'DisksUnavailable';
  readonly permanent = false;
}
