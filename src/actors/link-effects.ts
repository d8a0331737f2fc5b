import { fromPromise } from "xstate";
import type { Clock } from "../clock.js";
import type { LinkId } from "../ids.js";
import type { Logger } from "../log.js";
import type { ConnectInput, ConnectOutput, DisconnectInput, LinkContext, ProbeInput, ProbeOutput } from "../machines/link.machine.js";
import type { Notice, NoticeSink } from "../machines/notices.js";
import type { ProviderRegistry } from "../providers/registry.js";
import { isBalanceCapable, webhookUrls } from "../providers/types.js";
import type { LinkStore, StoredLinkState } from "../storage/links.js";

export interface LinkEffectDeps {
  providers: ProviderRegistry;
  /** Brings in texts that no webhook delivered (see reconcile.ts). */
  reconcile(linkId: LinkId): Promise<number>;
  log: Logger;
  links: LinkStore;
  notifier: NoticeSink;
  clock: Clock;
  publicBaseUrl: string;
}

/** The real effects of the link machine: provider calls, the links table, room notices. */
export function linkEffects(deps: LinkEffectDeps) {
  const clientFor = (input: ProbeInput) =>
    deps.providers.get(input.provider).createClient({ accountRef: input.accountRef, credentials: input.credentials });

  return {
    actors: {
      connect: fromPromise<ConnectOutput, ConnectInput>(async ({ input }) => {
        const client = clientFor(input);
        const account = await client.verify();
        const number = await client.findNumber(input.number);
        const attach = await client.attachNumber(number, webhookUrls(deps.publicBaseUrl, input.provider, input.linkId));
        // On a re-attach the number already points at the bridge: keep what was there first.
        return { account, number, attach: { ...attach, previous: input.knownPrevious ?? attach.previous } };
      }),
      probe: fromPromise<ProbeOutput, ProbeInput>(async ({ input }) => {
        const client = clientFor(input);
        const balance = isBalanceCapable(client) ? await client.getBalance() : (await client.verify(), null);
        // Someone may have changed the number's webhooks at the provider: point them back.
        const number = await client.findNumber(input.number);
        const urls = webhookUrls(deps.publicBaseUrl, input.provider, input.linkId);
        const drifted = number.settings.sms_url !== urls.sms || number.settings.voice_url !== urls.voice;
        if (drifted) await client.attachNumber(number, urls);
        return { balance, repaired: drifted };
      }),
      reconcile: fromPromise<number, { linkId: LinkId }>(({ input }) => deps.reconcile(input.linkId)),
      disconnect: fromPromise<void, DisconnectInput>(async ({ input }) => {
        // Nothing was changed at the provider if the link never got as far as attaching.
        if (!input.providerNumberId || !input.previousSettings) return;
        await clientFor(input).detachNumber(input.providerNumberId, input.previousSettings);
      }),
    },
    actions: {
      persist: ({ context }: { context: LinkContext }, params: { state: StoredLinkState }) => {
        const now = deps.clock.now();
        deps.links.save({
          id: context.linkId,
          roomId: context.roomId,
          provider: context.provider,
          phoneNumber: context.number,
          accountRef: context.accountRef,
          credentials: context.credentials,
          providerNumberId: context.providerNumberId,
          previousSettings: context.previousSettings,
          state: params.state,
          stateCode: context.lastError?.code ?? null,
          createdAt: now,
          updatedAt: now,
        });
      },
      forget: ({ context }: { context: LinkContext }) => deps.links.delete(context.linkId),
      notify: ({ context }: { context: LinkContext }, notice: Notice) => deps.notifier.notice(context.roomId, notice),
      reconcileFailed: ({ context }: { context: LinkContext }, params: { error: unknown }) =>
        deps.log.warn({ err: params.error, linkId: context.linkId }, "could not check the provider for missed texts; will try again"),
    },
  };
}
