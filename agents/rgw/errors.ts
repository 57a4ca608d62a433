// Typed errors of the object storage driver, with a CamelCase reason the Bucket controller copies into its
// conditions verbatim.
export type RgwReason = 'RgwUnavailable' | 'RgwError' | 'BucketNameTaken' | 'AccessDenied';

export class RgwError extends Error {
  constructor(
    readonly reason: RgwReason,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
