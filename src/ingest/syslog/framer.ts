// TCP syslog framing (RFC 6587): octet counting ("<len> <msg>") or newline-terminated, chosen per connection
// from its first byte. Bytes in, whole messages out; a message over the limit is refused, never buffered.

export type Framing = 'octet' | 'newline';

export interface FramerEvents {
  message(msg: Buffer): void;
  /** A frame over the limit. Octet counting cannot resynchronise: the caller closes the connection. */
  oversize(framing: Framing, fatal: boolean): void;
}

export class Framer {
  framing: Framing | undefined;
  readonly #max: number;
  readonly #on: FramerEvents;
  #buf: Buffer = Buffer.alloc(0);
  #need = -1; // octet counting: bytes of the current message still expected (-1: reading the length)
  #skipping = false; // newline framing: dropping the rest of an oversize line
  #dead = false;

  constructor(maxMessageBytes: number, on: FramerEvents) {
    this.#max = maxMessageBytes;
    this.#on = on;
  }

  push(data: Buffer): void {
    if (this.#dead || data.length === 0) return;
    this.#buf = this.#buf.length ? Buffer.concat([this.#buf, data]) : data;
    // A digit first means octet counting (RFC 6587 3.4.1); anything else ("<PRI>…") is newline framing.
    this.framing ??= this.#buf[0]! >= 0x30 && this.#buf[0]! <= 0x39 ? 'octet' : 'newline';
    if (this.framing === 'octet') this.#octets();
    else this.#lines();
  }

  /** At end of stream: a last newline-framed message without its newline is still a message. */
  end(): void {
    if (this.framing === 'newline' && !this.#skipping && this.#buf.length > 0) this.#emit(this.#buf);
    this.#buf = Buffer.alloc(0);
  }

  #emit(b: Buffer) {
    const end = b.length > 0 && b[b.length - 1] === 0x0d ? b.length - 1 : b.length;
    if (end > 0) this.#on.message(b.subarray(0, end));
  }

  #octets() {
    for (;;) {
      if (this.#need === -1) {
        const sp = this.#buf.indexOf(0x20);
        if (sp === -1) {
          if (this.#buf.length > 7) return this.#fail(); // no length field is that long
          return;
        }
        const len = /^[1-9]\d{0,6}$/.test(this.#buf.subarray(0, sp).toString('latin1'))
          ? Number(this.#buf.subarray(0, sp).toString('latin1'))
          : -1;
        if (len <= 0 || len > this.#max) return this.#fail();
        this.#need = len;
        this.#buf = this.#buf.subarray(sp + 1);
      }
      if (this.#buf.length < this.#need) return;
      const msg = this.#buf.subarray(0, this.#need);
      this.#buf = this.#buf.subarray(this.#need);
      this.#need = -1;
      // Some senders end octet-counted frames with a newline anyway.
      while (this.#buf.length && (this.#buf[0] === 0x0a || this.#buf[0] === 0x0d))
        this.#buf = this.#buf.subarray(1);
      this.#emit(msg);
    }
  }

  #lines() {
    let start = 0;
    for (let nl = this.#buf.indexOf(0x0a); nl !== -1; nl = this.#buf.indexOf(0x0a, start)) {
      if (this.#skipping) this.#skipping = false;
      else if (nl - start > this.#max) this.#on.oversize('newline', false);
      else this.#emit(this.#buf.subarray(start, nl));
      start = nl + 1;
    }
    this.#buf = start === 0 ? this.#buf : this.#buf.subarray(start);
    if (this.#buf.length > this.#max) {
      // Drop what we hold of an overlong line and skip to its end.
      if (!this.#skipping) this.#on.oversize('newline', false);
      this.#skipping = true;
      this.#buf = Buffer.alloc(0);
    }
  }

  #fail() {
    this.#dead = true;
    this.#buf = Buffer.alloc(0);
    this.#on.oversize('octet', true);
  }
}
