/**
 * The plan as the Markdown of one PR comment. The hidden marker on its first line is how the next
 * run finds the comment to update instead of adding another. Everything that comes from the
 * repository or an outside system (file names, URLs) is escaped: a PR must not be able to write
 * HTML or break a table in a comment posted under the workflow's name.
 */
import type { PhaseMode, PhasePlan, Plan, PlanSection } from './plan.js'

export const PLAN_MARKER = '<!-- zerollama:pr-plan -->'

/** A list longer than this is cut, so the comment stays far below GitHub's 65,536 characters. */
const MAX_ITEMS = 60

export interface RenderContext {
  /** The commit planned (the PR's head). */
  sha: string
  /** Link to the workflow run, when there is one. */
  runUrl?: string
}

const modeLabel: Record<PhaseMode, string> = {
  live: 'read live',
  offline: 'local only',
  static: 'from the workflow',
  failed: '⚠️ could not plan',
}

export function renderPlan(plan: Plan, context: RenderContext): string {
  const offline = plan.phases.filter((phase) => phase.mode === 'offline')
  const failed = plan.phases.filter((phase) => phase.mode === 'failed')
  const target = plan.spaceId ? ` for \`${inline(plan.spaceId)}\`` : ''
  const lines = [
    PLAN_MARKER,
    `## Plan: what dispatching \`migrate\`${target} would change once this PR is merged`,
    '',
    `For this PR merged into its base (head ${inline(context.sha.slice(0, 12))}), from each action's dry run with ` +
      'read-only tokens. Nothing was changed; this comment is updated on every push.',
  ]
  // A fork PR that did get the secrets (a private repository may send them) is no local-only plan.
  if (plan.fork && offline.length > 0) {
    lines.push(
      '',
      '> [!NOTE]',
      '> **Local-only plan.** This pull request comes from a fork, and GitHub gives workflows of fork PRs no ' +
        'secrets, so nothing live was read: the live Space and Railway are not compared. A maintainer sees the ' +
        'full plan on a branch of this repository, or with `npx zerollama plan`.',
    )
  } else if (offline.length > 0) {
    lines.push(
      '',
      '> [!NOTE]',
      `> **Partly local.** ${offline.map((p) => `${p.phase}: ${inline(p.note)}`).join('; ')}.`,
    )
  }
  if (failed.length > 0) {
    lines.push('', '> [!WARNING]', `> ${failed.map((p) => `**${p.phase}**: ${inline(p.note)}`).join('<br>')}`)
  }
  for (const phase of plan.phases) lines.push('', ...renderPhase(phase))
  lines.push('', footer(context))
  return `${lines.join('\n')}\n`
}

function renderPhase(phase: PhasePlan): string[] {
  const lines = [
    `### ${phase.phase} — ${modeLabel[phase.mode]}`,
    '',
    `_${inline(phase.note)}_ (actions/${phase.action})`,
  ]
  for (const section of phase.sections) lines.push('', ...renderSection(section))
  return lines
}

function renderSection(section: PlanSection): string[] {
  if (section.kind === 'facts') return table(['', ''], section.rows)
  if (section.kind === 'table') return [`**${inline(section.title)}**`, '', ...table(section.header, section.rows)]
  const lines = [`**${inline(section.title)}**`, '']
  if (section.items.length === 0) return [...lines, `- ${inline(section.empty)}`]
  const shown = section.items.slice(0, MAX_ITEMS)
  lines.push(
    ...shown.map((item) =>
      typeof item === 'string' ? `- ${code(item)}` : `- ${code(item.code)} — ${inline(item.note)}`,
    ),
  )
  if (section.items.length > shown.length) lines.push(`- … and ${section.items.length - shown.length} more`)
  return lines
}

function table(header: string[], rows: string[][]): string[] {
  const cell = (text: string) => inline(text).replace(/\|/g, '\\|')
  return [
    `| ${header.map(cell).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ]
}

function footer(context: RenderContext): string {
  const run = context.runUrl ? ` · [workflow run](${context.runUrl})` : ''
  return `<sub>Posted by the \`pr-plan\` job of ci.yml${run}. Dispatch migrate with \`dry-run\` on for the same plan at run time.</sub>`
}

/** One line of text, with no HTML: `<`, `>` and `&` become entities, line breaks spaces. */
export function inline(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/[\r\n]+/g, ' ')
}

/** A code span that no backtick in `text` can close early. */
function code(text: string): string {
  const flat = text.replace(/[\r\n]+/g, ' ')
  const fence = '`'.repeat((flat.match(/`+/g) ?? []).reduce((n, run) => Math.max(n, run.length), 0) + 1)
  const pad = flat.startsWith('`') || flat.endsWith('`') ? ' ' : ''
  return `${fence}${pad}${flat}${pad}${fence}`
}
