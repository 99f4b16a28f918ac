import type { AnyStateMachine } from "xstate";

type Node = AnyStateMachine["root"];
type Transition = NonNullable<Node["always"]>[number];

/**
 * A guard as text, the way both charts show it: a named guard is its name (`{ type, params }`:
 * its type), and XState's `and`/`or`/`not`, functions of those names carrying the guards they
 * combine, become an expression: `and(["a", not("b")])` -> `a && !b`. A nested combination is
 * parenthesised so that `a && (b || c)` keeps its meaning. Any other function (an inline guard,
 * or an action when a whole config is walked) has no text: undefined.
 */
export function guardText(guard: unknown): string | undefined {
  if (typeof guard === "string") return guard;
  const { name, type, guards } = (guard ?? {}) as { name?: string; type?: unknown; guards?: unknown[] };
  if (typeof guard === "object" && typeof type === "string") return type;
  if (typeof guard !== "function" || !Array.isArray(guards)) return undefined;
  const parts = guards.map((inner) => {
    const text = guardText(inner) ?? "?";
    return /^!?[\w.:-]+$/.test(text) ? text : `(${text})`;
  });
  if (name === "and") return parts.join(" && ");
  if (name === "or") return parts.join(" || ");
  if (name === "not") return `!${parts[0]}`;
  return undefined;
}

/** Mermaid state ids must be simple: `presence.connecting.opening` -> `connecting_opening`. */
const idOf = (node: Node) => node.path.join("_") || "root";

function edgeLabel(node: Node, transition: Transition): string {
  const delayed = node.after.find((after) => after.eventType === transition.eventType);
  const trigger = delayed ? `after ${String(delayed.delay)}` : transition.eventType || "always";
  const guard = transition.guard ? ` [${guardText(transition.guard) ?? "guard"}]` : "";
  return `${trigger}${guard}`;
}

function edges(node: Node, from: string, indent: string, lines: string[]) {
  const transitions = [...node.transitions.values()].flat().concat(node.always ?? []);
  for (const transition of transitions) {
    for (const target of transition.target ?? []) {
      lines.push(`${indent}${from} --> ${idOf(target)}: ${edgeLabel(node, transition)}`);
    }
  }
}

function body(node: Node, indent: string, lines: string[]) {
  const children = Object.values(node.states) as Node[];
  const initial = node.initial?.target?.[0];
  if (initial) lines.push(`${indent}[*] --> ${idOf(initial)}`);
  for (const child of children) {
    if (Object.keys(child.states).length > 0) {
      lines.push(`${indent}state ${idOf(child)} {`);
      body(child, `${indent}  `, lines);
      lines.push(`${indent}}`);
    }
    if (child.type === "final") lines.push(`${indent}${idOf(child)} --> [*]`);
    edges(child, idOf(child), indent, lines);
  }
}

/**
 * Draws a machine as a Mermaid state diagram, straight from its definition, so the picture in the
 * README cannot drift from the code. Transitions declared on the root (they apply in every state)
 * are drawn from a pseudo-state named `any`.
 *
 * @example
 * toMermaid(presenceMachine) // "stateDiagram-v2\n  [*] --> disconnected\n  ..."
 */
export function toMermaid(machine: AnyStateMachine): string {
  const lines = ["stateDiagram-v2"];
  body(machine.root, "  ", lines);
  edges(machine.root, "any", "  ", lines);
  return lines.join("\n");
}
