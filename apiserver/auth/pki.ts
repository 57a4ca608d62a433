// The cluster's own PKI, created on first start under $PHOTON_HOME/pki: a CA (10 years), the API server's
// serving certificate (1 year, renewed at start when it nears expiry or its names change) and client
// certificates for components. ECDSA P-256 through WebCrypto: no openssl binary needed.
import { webcrypto, X509Certificate as NodeX509 } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import net from 'node:net';
// @peculiar/x509 resolves its ASN.1 classes through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { APISERVER_AGENT_CLIENT } from '../../apis/compute/nodes.ts';
import { assertPrivateFile, writePrivateFileAtomic } from './credentials.ts';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
const crypto = webcrypto;
x509.cryptoProvider.set(crypto as never);

const KEY_ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGNING_ALGORITHM = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CertificateAuthority {
  certificatePem: string;
  keyPem: string;
}

export interface KeyPairPem {
  certificatePem: string;
  keyPem: string;
}

function toPem(der: ArrayBuffer, label: string): string {
  const base64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const base64 = pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(base64, 'base64');
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(KEY_ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return toPem(await crypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

async function importSigningKey(pem: string): Promise<CryptoKey> {
  return crypto.subtle.importKey('pkcs8', fromPem(pem), KEY_ALGORITHM, true, ['sign']);
}

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] &= 0x7f; // positive
  return Buffer.from(bytes).toString('hex');
}

export async function createCertificateAuthority(commonName = 'photon-ca'): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3650 * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    keys: keys as never,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as never),
    ],
  });
  return { certificatePem: certificate.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey!) };
}

interface IssueOptions {
  commonName: string;
  organizations?: string[];
  /** DNS names and IP addresses (serving certificates). */
  hosts?: string[];
  usage: 'server' | 'client';
  validDays?: number;
}

function escapeDn(value: string): string {
  return value.replace(/([,+"\\<>;=])/g, '\\$1');
}

export async function issueCertificate(ca: CertificateAuthority, options: IssueOptions): Promise<KeyPairPem> {
  const keys = await generateKeys();
  const caCertificate = new x509.X509Certificate(ca.certificatePem);
  const now = Date.now();
  const subject = [`CN=${escapeDn(options.commonName)}`, ...(options.organizations ?? []).map((org) => `O=${escapeDn(org)}`)].join(', ');
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
    new x509.ExtendedKeyUsageExtension([options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth], false),
    await x509.AuthorityKeyIdentifierExtension.create(caCertificate, false),
  ];
  if (options.hosts?.length) {
    extensions.push(new x509.SubjectAlternativeNameExtension(options.hosts.map((host) => ({ type: net.isIP(host) ? 'ip' : 'dns', value: host }))));
  }
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: caCertificate.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + (options.validDays ?? 365) * DAY_MS),
    signingAlgorithm: SIGNING_ALGORITHM,
    publicKey: keys.publicKey as never,
    signingKey: (await importSigningKey(ca.keyPem)) as never,
    extensions,
  });
  return { certificatePem: certificate.toString('pem') + '\n', keyPem: await exportKey(keys.privateKey!) };
}

/** Reads a private key, refusing one other users can read (see credentials.ts). */
function readPrivate(file: string): string {
  assertPrivateFile(file);
  return fs.readFileSync(file, 'utf8');
}

/** True when a PEM certificate is valid for another `days` and covers every host. */
function stillGood(certificatePem: string, hosts: string[], days: number): boolean {
  try {
    const certificate = new NodeX509(certificatePem);
    if (Date.parse(certificate.validTo) - Date.now() < days * DAY_MS) return false;
    const names = certificate.subjectAltName ?? '';
    return hosts.every((host) => names.includes(net.isIP(host) ? `IP Address:${host}` : `DNS:${host}`));
  } catch {
    return false;
  }
}

export interface ServerPki {
  ca: CertificateAuthority;
  serving: KeyPairPem;
  /** The API server's client certificate for node agents (consoles): CN APISERVER_AGENT_CLIENT. */
  agentClient: KeyPairPem;
  directory: string;
}



/** Loads the CA and serving certificate from `directory`, creating or renewing what is missing or stale. */
export async function ensureServerPki(directory: string, hosts: string[]): Promise<ServerPki> {
  fs.mkdirSync(directory, { recursive: true, mode: 0o700 });
  const caCert = path.join(directory, 'ca.crt');
  const caKey = path.join(directory, 'ca.key');
  let ca: CertificateAuthority;
  if (fs.existsSync(caCert) && fs.existsSync(caKey)) {
    ca = { certificatePem: fs.readFileSync(caCert, 'utf8'), keyPem: readPrivate(caKey) };
  } else {
    ca = await createCertificateAuthority();
    writePrivateFileAtomic(caKey, ca.keyPem);
    fs.writeFileSync(caCert, ca.certificatePem);
  }
  const servingCert = path.join(directory, 'apiserver.crt');
  const servingKey = path.join(directory, 'apiserver.key');
  let serving: KeyPairPem;
  if (fs.existsSync(servingCert) && fs.existsSync(servingKey) && stillGood(fs.readFileSync(servingCert, 'utf8'), hosts, 30)) {
    serving = { certificatePem: fs.readFileSync(servingCert, 'utf8'), keyPem: readPrivate(servingKey) };
  } else {
    serving = await issueCertificate(ca, { commonName: 'photon-apiserver', hosts, usage: 'server' });
    writePrivateFileAtomic(servingKey, serving.keyPem);
    fs.writeFileSync(servingCert, serving.certificatePem);
  }
  const agentCert = path.join(directory, 'agent-client.crt');
  const agentKey = path.join(directory, 'agent-client.key');
  let agentClient: KeyPairPem;
  if (fs.existsSync(agentCert) && fs.existsSync(agentKey) && stillGood(fs.readFileSync(agentCert, 'utf8'), [], 30)) {
    agentClient = { certificatePem: fs.readFileSync(agentCert, 'utf8'), keyPem: readPrivate(agentKey) };
  } else {
    agentClient = await issueCertificate(ca, { commonName: APISERVER_AGENT_CLIENT, usage: 'client' });
    writePrivateFileAtomic(agentKey, agentClient.keyPem);
    fs.writeFileSync(agentCert, agentClient.certificatePem);
  }
  return { ca, serving, agentClient, directory };
}
