import type { AnyActorRef } from "xstate";

/** One node of `/debug/actors`: what an actor is, what state it is in, what it holds. */
export interface ActorNode {
  id: string;
  machine: string;
  status: string;
  state: unknown;
  context: unknown;
  children: ActorNode[];
}

const SECRET_KEY = /token|secret|password|credential|key/i;

/**
 * Copies an actor's context into plain JSON for people to read: secrets (the `Secret` wrapper,
 * and any field whose name says secret) become "[redacted]", actor references become their id.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return "[…]";
  if (value === null || typeof value !== "object") return typeof value === "function" ? "[function]" : value;
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") {
    return redact((value as { toJSON(): unknown }).toJSON(), depth + 1);
  }
  if (typeof (value as { getSnapshot?: unknown }).getSnapshot === "function" && "id" in value) {
    return `[actor ${(value as { id: string }).id}]`;
  }
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, SECRET_KEY.test(key) && item !== null ? "[redacted]" : redact(item, depth + 1)]),
  );
}

export function describeActor(actor: AnyActorRef): ActorNode {
  const snapshot = actor.getSnapshot() as {
    status: string;
    value?: unknown;
    context?: unknown;
    children?: Record<string, AnyActorRef | undefined>;
  };
  const logic = (actor as { logic?: { id?: string; config?: { id?: string } } }).logic;
  return {
    id: actor.id,
    machine: logic?.config?.id ?? logic?.id ?? "actor",
    status: snapshot.status,
    state: snapshot.value ?? null,
    context: redact(snapshot.context ?? null),
    children: Object.values(snapshot.children ?? {})
      .filter((child): child is AnyActorRef => child !== undefined)
      .map(describeActor),
  };
}
