/** A set of small non-negative integers (event numbers) that grows as needed and travels as base64. */
export class Bitmap {
  private bytes: Uint8Array;
  size = 0;

  constructor(capacityBits = 1024, bytes?: Uint8Array) {
    this.bytes = bytes ?? new Uint8Array(Math.ceil(capacityBits / 8));
    if (bytes) for (const b of bytes) this.size += popcount(b);
  }

  static fromBase64(text: string): Bitmap {
    return new Bitmap(0, new Uint8Array(Buffer.from(text, "base64")));
  }

  has(i: number): boolean {
    const byte = i >> 3;
    return byte < this.bytes.length && ((this.bytes[byte] as number) & (1 << (i & 7))) !== 0;
  }

  /** Adds i; false when it was already there. */
  add(i: number): boolean {
    const byte = i >> 3;
    if (byte >= this.bytes.length) {
      const grown = new Uint8Array(Math.max(byte + 1, this.bytes.length * 2));
      grown.set(this.bytes);
      this.bytes = grown;
    }
    const mask = 1 << (i & 7);
    const old = this.bytes[byte] as number;
    if ((old & mask) !== 0) return false;
    this.bytes[byte] = old | mask;
    this.size++;
    return true;
  }

  /** Adds every number of `other`. */
  addAll(other: Bitmap): void {
    other.bytes.forEach((bits, byte) => {
      for (let bit = 0; bits !== 0 && bit < 8; bit++) if ((bits & (1 << bit)) !== 0) this.add(byte * 8 + bit);
    });
  }

  toBase64(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString("base64");
  }
}

function popcount(b: number): number {
  let n = 0;
  for (let v = b; v !== 0; v &= v - 1) n++;
  return n;
}
