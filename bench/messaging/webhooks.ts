/**
 * Inbound texts as Twilio delivers them: the incoming-message webhook, form-encoded, with the
 * parameters of a real capture (from the simulator) and a valid X-Twilio-Signature.
 */
import { randomBytes } from "node:crypto";
import twilio from "twilio";
import { inboundSmsParams } from "../../src/sandbox/simulator/twilio/inbound.js";
import { httpCall } from "./load.js";

export interface InboundTarget {
  /** The number's sms_url, as the bridge set it when linking (its public URL). */
  smsUrl: string;
  accountSid: string;
  authToken: string;
  number: string;
}

/** Sends inbound texts to the bridge, one signed webhook each. */
export class WebhookSender {
  private readonly templates = new Map<string, Record<string, string | string[]>>();

  constructor(private readonly target: InboundTarget) {}

  private template(from: string): Record<string, string | string[]> {
    let params = this.templates.get(from);
    if (!params) {
      params = inboundSmsParams({
        messageSid: "",
        accountSid: this.target.accountSid,
        from,
        to: this.target.number,
        body: "",
        numSegments: 1,
        media: [],
      });
      this.templates.set(from, params);
    }
    return params;
  }

  /** Posts one text from `from`; throws unless the bridge answers 200. */
  async send(from: string, body: string): Promise<void> {
    const sid = `SM${randomBytes(16).toString("hex")}`;
    const params = { ...this.template(from), SmsMessageSid: sid, SmsSid: sid, MessageSid: sid, Body: body };
    const form = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) for (const v of Array.isArray(value) ? value : [value]) form.append(key, v);
    const signature = twilio.getExpectedTwilioSignature(this.target.authToken, this.target.smsUrl, params);
    const result = await httpCall(this.target.smsUrl, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": signature,
        "i-twilio-idempotency-token": randomBytes(16).toString("hex"),
        "user-agent": "TwilioProxy/1.1",
      },
      body: form.toString(),
    });
    if (result.status !== 200) throw new Error(`webhook answered ${result.status}: ${result.body.slice(0, 200)}`);
  }
}

/** 50 distinct phones: +1 555 02x xxxx (fictional numbers). */
export function contactNumbers(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `+1555020${String(1000 + i).padStart(4, "0")}`);
}
