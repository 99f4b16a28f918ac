import type { AnyStateMachine } from "xstate";

type Node = AnyStateMachine["root"];
type Transition = NonNullable<Node["always"]>[number];

/** `and(["a", "b"])` -> `a && b`, `not("a")` -> `!a`: guard names as the chart shows them. */
function guardLabel(guard: unknown): string {
  if (typeof guard === "string") return guard;
  // XState's and/or/not are functions of those names carrying the guards they combine.
  const g = guard as { name?: string; type?: string; guards?: unknown[] } | undefined;
  if (!g) return "";
  const parts = (g.guards ?? []).map(guardLabel);
  if (g.name === "and") return parts.join(" && ");
  if (g.name === "or") return parts.join(" || ");
  if (g.name === "not") return `!${parts[0]}`;
  return g.type ?? "guard";
}

/** Mermaid state ids must be simple: `presence.connecting.opening` -> `connecting_opening`. */
const idOf = (node: Node) => node.path.join("_") || "root";

function edgeLabel(node: Node, transition: Transition): string {
  const delayed = node.after.find((after) => after.eventType === transition.eventType);
  const trigger = delayed ? `after ${String(delayed.delay)}` : transition.eventType || "always";
  const guard = transition.guard ? ` [${guardLabel(transition.guard)}]` : "";
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
