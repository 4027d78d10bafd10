import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Challenge-response on the job's secret. Each side sends a random nonce and the other answers
 * with an HMAC-SHA256 of it, labelled by role so a proof cannot be reflected back. The secret
 * itself never crosses the wire.
 */

export const NONCE_BYTES = 32;

export function newSecret(): string {
  return randomBytes(32).toString("hex");
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

export function prove(secret: string, role: "client" | "server", nonce: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac("sha256", secret).update(role).update(nonce).digest());
}

export function verify(secret: string, role: "client" | "server", nonce: Uint8Array, proof: unknown): boolean {
  if (!(proof instanceof Uint8Array)) return false;
  const expected = prove(secret, role, nonce);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}
