/**
 * `-j`/`-g` targets. Built-in verdicts and jumps carry no options; extension targets are parsed.
 * A target we do not model is kept as `UnknownTarget`, written back intact, and makes a trace
 * that reaches it uncertain.
 */

export interface VerdictTarget {
  readonly kind: "ACCEPT" | "DROP" | "RETURN";
}

export interface JumpTarget {
  readonly kind: "jump";
  readonly chain: string;
  /** `-g`: RETURN from the target chain returns to the caller's caller. */
  readonly goto: boolean;
}

export interface RejectTarget {
  readonly kind: "REJECT";
  readonly with: string;
}

export interface MarkTarget {
  readonly kind: "MARK";
  /** Every MARK form is stored as the kernel does: mark = (mark & ~mask) ^ value. */
  readonly value: number;
  readonly mask: number;
}

export type ConnmarkTarget =
  | { readonly kind: "CONNMARK"; readonly mode: "set"; readonly value: number; readonly mask: number }
  | {
      readonly kind: "CONNMARK";
      readonly mode: "save" | "restore";
      readonly nfmask: number;
      readonly ctmask: number;
    };

export interface NatRange {
  readonly minAddr: number | bigint | null;
  readonly maxAddr: number | bigint | null;
  readonly minPort: number | null;
  readonly maxPort: number | null;
}

export interface NatTarget {
  readonly kind: "DNAT" | "SNAT";
  readonly range: NatRange;
  readonly random: boolean;
  readonly randomFully: boolean;
  readonly persistent: boolean;
}

export interface MasqueradeTarget {
  readonly kind: "MASQUERADE" | "REDIRECT";
  readonly minPort: number | null;
  readonly maxPort: number | null;
  readonly random: boolean;
  readonly randomFully: boolean;
}

export interface LogTarget {
  readonly kind: "LOG";
  readonly prefix: string | null;
  readonly level: number;
  readonly flags: readonly string[];
}

export interface NflogTarget {
  readonly kind: "NFLOG";
  readonly prefix: string | null;
  readonly group: number;
  readonly range: number | null;
  readonly size: number | null;
  readonly threshold: number;
}

export interface TraceTarget {
  readonly kind: "TRACE";
}

export interface CtTarget {
  readonly kind: "CT" | "NOTRACK";
  readonly notrack: boolean;
  /** Other CT options (`--zone 5`, `--helper ftp`), kept verbatim; they do not affect our model. */
  readonly options: readonly string[];
}

export interface UnknownTarget {
  readonly kind: "unknown";
  readonly name: string;
  readonly tokens: readonly string[];
}

export type Target =
  | VerdictTarget
  | JumpTarget
  | RejectTarget
  | MarkTarget
  | ConnmarkTarget
  | NatTarget
  | MasqueradeTarget
  | LogTarget
  | NflogTarget
  | TraceTarget
  | CtTarget
  | UnknownTarget;
