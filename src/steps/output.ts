// Turning a step's output stream into build log lines: bytes decoded in the step's encoding (a character
// split across chunks is kept whole), secrets masked (also when split), complete lines passed on.
import { TextDecoder } from "node:util";
import type { BuildLog } from "../controller/provisioner.ts";
import type { SecretMasker } from "./masker.ts";

export class LogLines {
  private readonly decoder: TextDecoder;
  private readonly masker: SecretMasker;
  private readonly log: BuildLog;
  private partial = "";

  constructor(log: BuildLog, masker: SecretMasker, encoding = "utf-8") {
    this.log = log;
    this.masker = masker;
    this.decoder = new TextDecoder(encoding);
  }

  write(data: Buffer): void {
    this.emit(this.masker.push(this.decoder.decode(data, { stream: true })));
  }

  end(): void {
    this.emit(this.masker.push(this.decoder.decode()) + this.masker.flush());
    if (this.partial) this.log.line(this.partial);
    this.partial = "";
  }

  private emit(text: string): void {
    const lines = (this.partial + text).split("\n");
    this.partial = lines.pop()!;
    for (const line of lines) this.log.line(line);
  }
}
