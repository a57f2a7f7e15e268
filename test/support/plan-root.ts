/**
 * A throw-away repository root for the PR plan: the real migrate.yml (optionally edited) and the
 * real action.yml files, next to a small Space folder, so a test can change what the plan reads
 * without touching the checkout.
 */
import { copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { makeSpaceFolder } from '../fakes/hf-fixtures.js'

const repo = new URL('../../', import.meta.url).pathname

export async function makePlanRoot(editWorkflow: (text: string) => string = (t) => t): Promise<string> {
  const root = await makeSpaceFolder({ '.keep': '' })
  const space = await makeSpaceFolder()
  await rename(space, join(root, 'space'))
  await mkdir(join(root, '.github', 'workflows'), { recursive: true })
  const migrate = await readFile(join(repo, '.github', 'workflows', 'migrate.yml'), 'utf8')
  await writeFile(join(root, '.github', 'workflows', 'migrate.yml'), editWorkflow(migrate))
  const actions = await readdir(join(repo, 'actions'), { withFileTypes: true })
  for (const action of actions.filter((a) => a.isDirectory() && a.name !== 'common').map((a) => a.name)) {
    await mkdir(join(root, 'actions', action), { recursive: true })
    await copyFile(join(repo, 'actions', action, 'action.yml'), join(root, 'actions', action, 'action.yml'))
  }
  return root
}

export async function removePlanRoot(root: string): Promise<void> {
  await rm(root, { recursive: true, force: true })
}

/** migrate.yml with create-space also given the Space's shared key and one variable. */
export function withApiKeyAndVariable(migrate: string): string {
  const expression = (text: string) => ['$', `{{ ${text} }}`].join('')
  const anchor = `          hf-token: ${expression('secrets.HF_TOKEN')}\n          private: ${expression('inputs.private')}\n`
  if (!migrate.includes(anchor)) throw new Error('migrate.yml changed: update withApiKeyAndVariable')
  return migrate.replace(
    anchor,
    `${anchor}          api-key: ${expression('secrets.ZEROLLAMA_API_KEY')}\n          variables: "OLLAMA_KEEP_ALIVE=30m"\n`,
  )
}
