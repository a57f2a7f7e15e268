/**
 * Cognitia's real Railway setup as the fake's default state: one project, environment `production`,
 * service `cognitia` pointing at the CPU Ollama service over the private network, and `ollama` running.
 * The rehearsal and the tests start from this; ids are UUID-shaped like Railway's.
 */

import type { RailwayTokenKind } from '../../src/railway/client.js'

export interface RailwayFakeSeed {
  projects: {
    id: string
    name: string
    environments: { id: string; name: string }[]
    services: { id: string; name: string }[]
  }[]
  /** Variables per (service, environment), as written (unrendered). */
  variables: { serviceId: string; environmentId: string; values: Record<string, string> }[]
  /** Service instances that start with one SUCCESS deployment. */
  running: { serviceId: string; environmentId: string }[]
  /** Tokens the fake accepts; a project token is bound to one environment. */
  tokens: { value: string; kind: RailwayTokenKind; projectId?: string; environmentId?: string }[]
}

export const COGNITIA = {
  projectId: '4f1c2a9e-7b3d-4e51-9a0c-1d2e3f405162',
  projectName: 'cognitia',
  environmentId: '9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d',
  environmentName: 'production',
  cognitiaServiceId: 'c0c0a1a1-2b2b-4c3c-9d4d-5e5e6f6f7a7a',
  ollamaServiceId: '0a11a3a0-1111-4222-8333-444455556666',
  postgresServiceId: 'b1b2b3b4-c5c6-4d7d-8e8e-9f9f0a0a1b1b',
  ollamaUrl: 'http://ollama.railway.internal:11434',
  /** Fake credentials: the output scans look for these exact strings. */
  accountToken: 'rw-account-3f9d1c5e-token-value',
  projectToken: 'rw-project-7a2b6c4d-token-value',
  databaseUrl: 'postgresql://cognitia:pg-s3cret-4d1f@postgres.railway.internal:5432/cognitia',
  sessionSecret: 'cognitia-session-5b7e1d9a',
} as const

export function cognitiaSeed(): RailwayFakeSeed {
  return {
    projects: [
      {
        id: COGNITIA.projectId,
        name: COGNITIA.projectName,
        environments: [{ id: COGNITIA.environmentId, name: COGNITIA.environmentName }],
        services: [
          { id: COGNITIA.cognitiaServiceId, name: 'cognitia' },
          { id: COGNITIA.ollamaServiceId, name: 'ollama' },
          { id: COGNITIA.postgresServiceId, name: 'postgres' },
        ],
      },
    ],
    variables: [
      {
        serviceId: COGNITIA.cognitiaServiceId,
        environmentId: COGNITIA.environmentId,
        values: {
          OLLAMA_BASE_URL: COGNITIA.ollamaUrl,
          OLLAMA_MODEL: 'qwen2.5:7b',
          DATABASE_URL: COGNITIA.databaseUrl,
          // A plain value that names the environment: masking it would hide "production" in every log line.
          NODE_ENV: 'production',
          SESSION_SECRET: COGNITIA.sessionSecret,
        },
      },
      {
        serviceId: COGNITIA.ollamaServiceId,
        environmentId: COGNITIA.environmentId,
        values: { OLLAMA_HOST: '0.0.0.0', OLLAMA_KEEP_ALIVE: '24h' },
      },
    ],
    running: [
      { serviceId: COGNITIA.cognitiaServiceId, environmentId: COGNITIA.environmentId },
      { serviceId: COGNITIA.ollamaServiceId, environmentId: COGNITIA.environmentId },
      { serviceId: COGNITIA.postgresServiceId, environmentId: COGNITIA.environmentId },
    ],
    tokens: [
      { value: COGNITIA.accountToken, kind: 'account' },
      {
        value: COGNITIA.projectToken,
        kind: 'project',
        projectId: COGNITIA.projectId,
        environmentId: COGNITIA.environmentId,
      },
    ],
  }
}
