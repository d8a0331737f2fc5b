import { CallStore } from "./calls.js";
import { ContactStore } from "./contacts.js";
import { ControlRoomStore } from "./control-rooms.js";
import { CredentialCipher } from "./credentials.js";
import { DmChoiceStore } from "./dm-choices.js";
import { openDatabase, type Db } from "./db.js";
import { LinkStore } from "./links.js";
import { MatrixEventStore } from "./matrix-events.js";
import { MessageStore } from "./messages.js";
import { PortalStore } from "./portals.js";
import { ReconcileMarkStore } from "./reconcile-marks.js";
import { migrate } from "./migrate.js";
import type { Secret } from "../secret.js";

/** Everything the bridge keeps, behind small stores. SQLite today; the stores are the seam for pg. */
export interface Storage {
  db: Db;
  controlRooms: ControlRoomStore;
  links: LinkStore;
  matrixEvents: MatrixEventStore;
  portals: PortalStore;
  contacts: ContactStore;
  messages: MessageStore;
  reconcileMarks: ReconcileMarkStore;
  dmChoices: DmChoiceStore;
  calls: CallStore;
  close(): void;
}

export function openStorage(path: string, credentialKey: Secret<string>): Storage {
  const db = openDatabase(path);
  try {
    migrate(db);
    const cipher = CredentialCipher.open(db, credentialKey);
    return {
      db,
      controlRooms: new ControlRoomStore(db),
      links: new LinkStore(db, cipher),
      matrixEvents: new MatrixEventStore(db),
      portals: new PortalStore(db),
      contacts: new ContactStore(db),
      messages: new MessageStore(db),
      reconcileMarks: new ReconcileMarkStore(db),
      dmChoices: new DmChoiceStore(db),
      calls: new CallStore(db),
      close: () => db.close(),
    };
  } catch (err) {
    db.close();
    throw err;
  }
}
