/**
 * One plan comment per pull request: found by the marker its body starts with, updated in place,
 * created only when there is none. Other comments (people, other bots, a reply quoting the plan)
 * never start with the marker, so they are never touched.
 */
import type { IssueComment, IssueComments, IssueRef } from '../github/issue-comments.js'
import type { Logger } from '../logger.js'

export interface PublishResult {
  action: 'created' | 'updated' | 'unchanged'
  comment: IssueComment
}

export async function publishComment(
  comments: Pick<IssueComments, 'list' | 'create' | 'update'>,
  issue: IssueRef,
  body: string,
  marker: string,
  logger: Logger,
): Promise<PublishResult> {
  const ours = (await comments.list(issue)).filter((comment) => comment.body.startsWith(marker))
  const [existing, ...extra] = ours
  if (extra.length > 0) {
    logger.warning(
      `#${issue.number} has ${ours.length} plan comments; updating the oldest (${existing?.id}), the others can be deleted`,
    )
  }
  if (!existing) {
    const comment = await comments.create(issue, body)
    logger.info(`created plan comment ${comment.id} on #${issue.number}`)
    return { action: 'created', comment }
  }
  if (existing.body === body) {
    logger.info(`plan comment ${existing.id} on #${issue.number} is already up to date`)
    return { action: 'unchanged', comment: existing }
  }
  const comment = await comments.update(issue, existing.id, body)
  logger.info(`updated plan comment ${comment.id} on #${issue.number}`)
  return { action: 'updated', comment }
}
