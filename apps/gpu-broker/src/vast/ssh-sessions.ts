import { Injectable } from '@nestjs/common';
import type { SshSession } from './ssh-gateway';

/** The SSH connection (and with it the agent's NATS tunnel) held to each instance, by row id. */
@Injectable()
export class SshSessions {
  private readonly sessions = new Map<string, SshSession>();

  set(rowId: string, session: SshSession): void {
    this.sessions.set(rowId, session);
  }

  has(rowId: string): boolean {
    return this.sessions.has(rowId);
  }

  /** Forgets the session without closing it (it closed by itself). */
  forget(rowId: string): void {
    this.sessions.delete(rowId);
  }

  close(rowId: string): void {
    const s = this.sessions.get(rowId);
    this.sessions.delete(rowId);
    s?.close();
  }
}
