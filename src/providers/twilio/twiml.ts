import twilio from "twilio";
import type { CallPlan } from "../types.js";

/** URLs a plan's TwiML points back at, all under the link's webhook path. */
export interface VoiceUrls {
  /** wss://…/media: where Twilio opens the call's media stream. */
  stream: string;
  /** Asked what next when the stream ends. */
  afterStream: string;
  /** Gets the voicemail recording. */
  recording: string;
}

/** Renders the bridge's call plan as TwiML, with the twilio SDK's own builder. */
export function planToTwiml(plan: CallPlan, urls: VoiceUrls): string {
  const response = new twilio.twiml.VoiceResponse();
  switch (plan.kind) {
    case "stream": {
      // <Stream url> takes no query string: the call's id and one-time token travel as <Parameter>s.
      const connect = response.connect({ action: urls.afterStream, method: "POST" });
      const stream = connect.stream({ url: urls.stream });
      for (const [name, value] of Object.entries(plan.parameters)) stream.parameter({ name, value });
      break;
    }
    case "voicemail":
      response.say(plan.greeting);
      response.record({ action: urls.recording, method: "POST", maxLength: plan.maxLengthSeconds, playBeep: true, timeout: 5, finishOnKey: "#" });
      break;
    case "reject":
      response.reject({ reason: plan.reason });
      break;
    case "say":
      response.say(plan.text);
      response.hangup();
      break;
    case "hangup":
      response.hangup();
      break;
  }
  return response.toString();
}
