import type { FastifyPluginAsync } from "fastify";
import type { E164, LinkId, ProviderKind } from "../ids.js";
import type { Logger } from "../log.js";
import type { Secret } from "../secret.js";
import type { CallIncoming, InboundMedia, MessageStatus, ProviderEvent, Sender } from "./events.js";
import type { ProviderCredentials } from "../storage/links.js";

/**
 * The provider contract. A provider is two levels:
 * - a `ProviderConnector` per provider kind (Twilio, later Vonage, Telnyx): parses `link`
 *   arguments, builds clients, and owns its webhook routes. Building it does no I/O.
 * - a `ProviderClient` per linked account: the calls the bridge makes to the provider.
 * Optional abilities are separate small interfaces with type guards (`BalanceCapable`, ...), so a
 * provider that lacks one simply doesn't implement it.
 *
 * Every client method rejects only with a `BridgeError` whose code says what kind of failure it
 * was, because the link machine decides its next state from that code:
 * - `provider-credentials-rejected`: the provider refused the credentials (the user must fix them);
 * - `provider-number-not-found`: the credentials work but the number isn't on the account;
 * - `provider-unavailable`: network trouble, 429 or 5xx (worth retrying later);
 * - `provider-rejected`: any other refusal (retrying won't help).
 */

/** What `link <kind> ...` asked for, after the connector parsed the arguments. */
export interface LinkRequest {
  /** The provider's account id (Twilio AccountSid); shown to users, not secret. */
  accountRef: string;
  credentials: Secret<ProviderCredentials>;
  /** The number as the user typed it; the command layer parses it. */
  number: string;
}

/** A stored account, enough to build a client. */
export interface ProviderAccount {
  accountRef: string;
  credentials: Secret<ProviderCredentials>;
}

export interface AccountInfo {
  accountRef: string;
  name: string;
  /** Provider-side problems worth telling the user (a suspended account, say). */
  warnings: string[];
}

/** A phone number on the provider account, with its current webhook settings. */
export interface ProviderNumber {
  /** The provider's id for the number (Twilio PN sid). */
  id: string;
  number: E164;
  /** The settings the bridge will overwrite, keyed by the provider's field names. */
  settings: Record<string, string | null>;
}

/** Where the provider must send this link's traffic. Each URL carries the link id. */
export interface WebhookUrls {
  sms: string;
  voice: string;
  callStatus: string;
  messageStatus: string;
}

export interface AttachResult {
  /** The settings as they were, for `detachNumber` to restore. */
  previous: Record<string, string | null>;
  /** Things at the provider that would override the bridge's webhooks. */
  warnings: string[];
}

export interface ProviderClient {
  /** Checks the credentials against the provider. */
  verify(): Promise<AccountInfo>;
  /** Finds a number on the account. Rejects with `provider-number-not-found` when absent. */
  findNumber(number: E164): Promise<ProviderNumber>;
  /** Points the number's webhooks at the bridge. */
  attachNumber(number: ProviderNumber, urls: WebhookUrls): Promise<AttachResult>;
  /** Puts back the settings `attachNumber` replaced. */
  detachNumber(numberId: string, previous: Record<string, string | null>): Promise<void>;
}

export interface Balance {
  amount: string;
  currency: string;
}

export interface BalanceCapable {
  getBalance(): Promise<Balance>;
}

export const isBalanceCapable = (client: ProviderClient): client is ProviderClient & BalanceCapable =>
  typeof (client as Partial<BalanceCapable>).getBalance === "function";

/** A text to send. `to` is a number or a short code. */
export interface OutboundMessage {
  from: E164;
  to: string;
  body: string;
  /** Public URLs the provider fetches the media from. */
  mediaUrls: string[];
  /** Where the provider reports delivery. */
  statusCallback: string;
}

export interface SentMessage {
  providerMessageId: string;
  status: MessageStatus;
}

/** A message as the provider's message list shows it, for reconciliation. */
export interface ListedMessage {
  providerMessageId: string;
  direction: "inbound" | "outbound";
  /** Who sent it, normalised; null when the provider's sender field is unusable. */
  from: Sender | null;
  to: string;
  body: string;
  createdAt: number;
  mediaCount: number;
}

export interface MessagingLimits {
  /** Longest body one message may carry; longer texts are split by the bridge. */
  maxBodyChars: number;
  /** Total media bytes of one message. */
  maxMediaBytes: number;
  maxMediaItems: number;
  /** Whether one message can go to several recipients as a group conversation. */
  groupMessaging: boolean;
}

/**
 * Texting. `sendMessage` rejects with `provider-unavailable` (retry later) or `provider-rejected`
 * (permanent; `context.providerCode` holds the provider's error code and `userMessage` says why
 * in plain words).
 */
export interface MessagingCapable {
  readonly messaging: MessagingLimits;
  sendMessage(message: OutboundMessage): Promise<SentMessage>;
  /** Messages to or from a number since a time, newest first. */
  listMessages(filter: { from?: string; to?: string; since: number }): Promise<ListedMessage[]>;
  /** The media of a message in the provider's list. */
  mediaOf(providerMessageId: string): Promise<InboundMedia[]>;
  /** Why a text failed, in plain words, from the provider's error code. */
  explainError(code: number | null): string;
  /** Downloads an inbound media URL with the account's credentials. */
  fetchMedia(url: string, maxBytes: number): Promise<{ data: Buffer; contentType: string }>;
}

export const isMessagingCapable = (client: ProviderClient): client is ProviderClient & MessagingCapable =>
  typeof (client as Partial<MessagingCapable>).sendMessage === "function";

/**
 * What the caller hears next, decided by the bridge; each provider renders it in its own
 * language (TwiML for Twilio).
 */
export type CallPlan =
  /** Open a two-way media stream carrying these parameters (the call's id and one-time token). */
  | { kind: "stream"; parameters: Record<string, string> }
  | { kind: "voicemail"; greeting: string; maxLengthSeconds: number }
  | { kind: "reject"; reason: "busy" | "rejected" }
  | { kind: "say"; text: string }
  | { kind: "hangup" };

/** A call's live audio from the provider: 8 kHz µ-law, both ways. */
export interface ProviderMediaStream {
  readonly providerCallId: string;
  /** The parameters the plan asked the stream to carry. */
  readonly parameters: Record<string, string>;
  onAudio(listener: (mulaw: Buffer) => void): void;
  /** Keys the caller pressed, as the provider reports them. */
  onDigit(listener: (digit: string) => void): void;
  onClose(listener: () => void): void;
  /** Plays audio to the caller, in order; any length. */
  sendAudio(mulaw: Buffer): void;
  /** Drops audio sent but not yet played (ringback, once answered). */
  clearAudio(): void;
  /** Ends the stream; the provider then asks what next (`afterStream`). */
  close(): void;
}

/**
 * Calls. Rejections follow the client contract above (`provider-unavailable` worth retrying,
 * `provider-rejected` not).
 */
export interface VoiceCapable {
  /** Dials a number; `answerUrl` is fetched for what to do once it answers. */
  placeCall(options: { from: E164; to: E164; answerUrl: string; statusCallback: string; timeoutSeconds: number }): Promise<{ providerCallId: string }>;
  /** Hangs up a call; one that already ended is not an error. */
  hangupCall(providerCallId: string): Promise<void>;
  /** Downloads a voicemail recording (WAV). */
  fetchRecording(url: string, maxBytes: number): Promise<{ data: Buffer; contentType: string }>;
}

export const isVoiceCapable = (client: ProviderClient): client is ProviderClient & VoiceCapable =>
  typeof (client as Partial<VoiceCapable>).placeCall === "function";

/** What a connector's webhook plugin gets from the bridge. */
export interface WebhookContext {
  /** The public base URL providers were told to call; signatures are checked against it. */
  publicBaseUrl: string;
  /** The stored account of a link, or undefined for an unknown link id. */
  accountOf(linkId: LinkId): ProviderAccount | undefined;
  /**
   * Hands a normalised event to the bridge. It is stored durably before this returns, so the
   * plugin may acknowledge the webhook afterwards; it throws if it could not be stored, and the
   * plugin must then answer with a 5xx.
   */
  deliver(event: ProviderEvent): void;
  /** A call came in: what the caller hears now. Decided synchronously, stored before returning. */
  incomingCall(event: CallIncoming): CallPlan;
  /** An outbound call was answered and the provider asks what to do: the call's id is `callId`. */
  outboundAnswered(linkId: LinkId, callId: string): CallPlan;
  /** The media stream of a call ended (the bridge closed it, or it broke): what next. */
  afterStream(linkId: LinkId, providerCallId: string): CallPlan;
  /** A call's media stream opened; the bridge checks its one-time token. */
  mediaStream(linkId: LinkId, stream: ProviderMediaStream): void;
  log: Logger;
}

export interface ProviderConnector {
  readonly kind: ProviderKind;
  readonly displayName: string;
  /** One line for `help`: the arguments after `link <kind>`. */
  readonly linkUsage: string;
  /** Parses the arguments after `link <kind>`; throws `command-usage` with a user message. */
  parseLinkArgs(args: readonly string[]): LinkRequest;
  /** Builds a client for an account. Must not do network I/O. */
  createClient(account: ProviderAccount): ProviderClient;
  /** This provider's webhook routes, mounted under `/webhooks/<kind>/`. */
  readonly webhooks: FastifyPluginAsync<WebhookContext>;
}

export function webhookUrls(publicBaseUrl: string, kind: ProviderKind, link: LinkId): WebhookUrls {
  const base = `${publicBaseUrl}/webhooks/${kind}/${link}`;
  return {
    sms: `${base}/sms`,
    voice: `${base}/voice`,
    callStatus: `${base}/call-status`,
    messageStatus: `${base}/message-status`,
  };
}
