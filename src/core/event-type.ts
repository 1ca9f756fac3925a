/** An entry of the event-type catalog: what one event `type` means and, optionally, its payload schema. */
export interface EventType {
  /** The owning tenant; "" for an instance-wide type. */
  tenantId: string;
  name: string;
  description: string;
  /** An example payload (JSON text); "" when none. */
  example: string;
  /** A JSON Schema, draft 2020-12 (JSON text); "" when none. */
  schema: string;
  archived: boolean;
  createdMs: number;
  updatedMs: number;
}

/** The scope of instance-wide types in messages and keys. */
export const INSTANCE_WIDE = "";
