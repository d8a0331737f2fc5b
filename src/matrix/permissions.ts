import type { PermissionLevel } from "../config/types.js";

const RANK: Record<PermissionLevel, number> = { none: 0, user: 1, admin: 2 };

/**
 * Who may use the bridge, from the config's `permissions`: an exact user id beats a server name,
 * which beats "*"; anyone not matched gets "none".
 */
export class Permissions {
  constructor(private readonly rules: Record<string, PermissionLevel>) {}

  levelOf(userId: string): PermissionLevel {
    const server = userId.slice(userId.indexOf(":") + 1);
    return this.rules[userId] ?? this.rules[server] ?? this.rules["*"] ?? "none";
  }

  allows(userId: string, needed: PermissionLevel): boolean {
    return RANK[this.levelOf(userId)] >= RANK[needed];
  }
}
