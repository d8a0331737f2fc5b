import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { BridgeError } from "../errors.js";
import { Secret } from "../secret.js";
import type { Db } from "./db.js";

const CHECK_PLAINTEXT = "matrix-pstn-bridge credential key check";
const FORMAT = "v1";

/**
 * Resolves `database.credentialKey`: `env:NAME` reads an environment variable, `file:PATH` reads a
 * file (creating one with a random key, readable only by its owner, when it does not exist yet),
 * anything else is the key itself.
 */
export function resolveCredentialKey(spec: string, env: NodeJS.ProcessEnv = process.env): Secret<string> {
  if (spec.startsWith("env:")) {
    const name = spec.slice(4);
    const value = env[name];
    if (!value || value.length < 16) {
      throw new BridgeError(
        "credential-key-missing",
        `database.credentialKey names the environment variable ${name}, which is ${value ? "shorter than 16 characters" : "not set"}`,
        { context: { variable: name } },
      );
    }
    return new Secret(value);
  }
  if (spec.startsWith("file:")) {
    const path = spec.slice(5);
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, randomBytes(32).toString("base64") + "\n", { mode: 0o600, flag: "wx" });
    }
    chmodSync(path, 0o600);
    return new Secret(readFileSync(path, "utf8").trim());
  }
  return new Secret(spec);
}

/**
 * Encrypts provider credentials at rest with AES-256-GCM. The key is stretched with scrypt and a
 * per-database salt; a check value in `bridge_meta` lets start-up refuse a wrong key with a clear
 * message instead of failing later on every link.
 */
export class CredentialCipher {
  readonly #key: Buffer;

  private constructor(key: Buffer) {
    this.#key = key;
  }

  static open(db: Db, secret: Secret<string>): CredentialCipher {
    const meta = (key: string) =>
      (db.prepare("SELECT value FROM bridge_meta WHERE key = ?").get(key) as { value: string } | undefined)?.value;
    const setMeta = db.prepare("INSERT INTO bridge_meta (key, value) VALUES (?, ?)");
    let salt = meta("credential_salt");
    if (!salt) {
      salt = randomBytes(16).toString("base64");
      setMeta.run("credential_salt", salt);
    }
    const cipher = new CredentialCipher(scryptSync(secret.reveal(), Buffer.from(salt, "base64"), 32));
    const check = meta("credential_check");
    if (!check) {
      setMeta.run("credential_check", cipher.encrypt(CHECK_PLAINTEXT));
    } else if (cipher.tryDecrypt(check) !== CHECK_PLAINTEXT) {
      throw new BridgeError(
        "credential-key-mismatch",
        "the credential key does not match the one this database was created with; stored provider credentials cannot be read",
      );
    }
    return cipher;
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.#key, iv);
    const data = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [FORMAT, iv.toString("base64"), cipher.getAuthTag().toString("base64"), data.toString("base64")].join(":");
  }

  decrypt(sealed: string): string {
    const plaintext = this.tryDecrypt(sealed);
    if (plaintext === null) {
      throw new BridgeError("credential-key-mismatch", "stored credentials could not be decrypted with the credential key");
    }
    return plaintext;
  }

  private tryDecrypt(sealed: string): string | null {
    const [format, iv, tag, data] = sealed.split(":");
    if (format !== FORMAT || !iv || !tag || data === undefined) return null;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#key, Buffer.from(iv, "base64"));
      decipher.setAuthTag(Buffer.from(tag, "base64"));
      return Buffer.concat([decipher.update(Buffer.from(data, "base64")), decipher.final()]).toString("utf8");
    } catch {
      return null;
    }
  }
}
