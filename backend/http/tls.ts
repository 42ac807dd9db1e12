import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

function read(file: string, env: string): Buffer {
  try {
    return readFileSync(path.resolve(file));
  } catch (err) {
    throw new ConfigError(`invalid ${env}=${JSON.stringify(file)}: the file cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

/**
 * TLS_CERT_FILE and TLS_KEY_FILE, read and checked at start-up: both or neither, readable, PEM, and
 * a key that belongs to the certificate. A bad pair stops start-up with a message naming the key,
 * never a server that fails its first handshake.
 */
export function loadTls(config: Pick<Config, 'tlsCertFile' | 'tlsKeyFile'>): TlsFiles | undefined {
  const { tlsCertFile, tlsKeyFile } = config;
  if (tlsCertFile === undefined && tlsKeyFile === undefined) return undefined;
  if (tlsCertFile === undefined) throw new ConfigError('invalid TLS_KEY_FILE: TLS_CERT_FILE must be set too (both, or neither)');
  if (tlsKeyFile === undefined) throw new ConfigError('invalid TLS_CERT_FILE: TLS_KEY_FILE must be set too (both, or neither)');
  const cert = read(tlsCertFile, 'TLS_CERT_FILE');
  const key = read(tlsKeyFile, 'TLS_KEY_FILE');
  if (!cert.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) {
    throw new ConfigError(`invalid TLS_CERT_FILE=${JSON.stringify(tlsCertFile)}: expected a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(key.toString('latin1'))) {
    throw new ConfigError(`invalid TLS_KEY_FILE=${JSON.stringify(tlsKeyFile)}: expected a PEM private key (-----BEGIN … PRIVATE KEY-----)`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new ConfigError(`invalid TLS_KEY_FILE=${JSON.stringify(tlsKeyFile)}: it does not fit TLS_CERT_FILE=${JSON.stringify(tlsCertFile)} (${(err as Error).message})`);
  }
  return { cert, key };
}
