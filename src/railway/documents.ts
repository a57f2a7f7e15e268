/**
 * Every GraphQL document the pipeline sends to Railway, each a named operation with its result
 * and variable types. The Railway fake validates these against the pinned schema
 * (shared/contracts/railway-schema.json), so a field Railway removes breaks a test, not a migration.
 */

/** A document plus the types it reads and needs; the phantom fields only carry types. */
export interface Operation<TData, TVariables> {
  readonly name: string
  readonly query: string
  readonly kind: 'read' | 'write'
  readonly _types?: { data: TData; variables: TVariables }
}

function read<TData, TVariables = Record<string, never>>(name: string, query: string): Operation<TData, TVariables> {
  return { name, query, kind: 'read' }
}
function write<TData, TVariables>(name: string, query: string): Operation<TData, TVariables> {
  return { name, query, kind: 'write' }
}

export type DeploymentStatus =
  | 'BUILDING'
  | 'CRASHED'
  | 'DEPLOYING'
  | 'FAILED'
  | 'INITIALIZING'
  | 'NEEDS_APPROVAL'
  | 'QUEUED'
  | 'REMOVED'
  | 'REMOVING'
  | 'SKIPPED'
  | 'SLEEPING'
  | 'SUCCESS'
  | 'WAITING'

export interface DeploymentSummary {
  id: string
  status: DeploymentStatus
  createdAt: string
  serviceId: string | null
}

export interface Connection<T> {
  edges: { node: T }[]
  pageInfo?: { hasNextPage: boolean; endCursor: string | null }
}

const deploymentFields = 'id status createdAt serviceId'

export const projectTokenQuery = read<{ projectToken: { projectId: string; environmentId: string } }>(
  'ProjectToken',
  'query ProjectToken { projectToken { projectId environmentId } }',
)

export const projectsQuery = read<{ projects: Connection<{ id: string; name: string }> }>(
  'Projects',
  'query Projects { projects(first: 100) { edges { node { id name } } } }',
)

export const projectTopologyQuery = read<
  {
    project: {
      id: string
      name: string
      environments: Connection<{ id: string; name: string }>
      services: Connection<{ id: string; name: string }>
    }
  },
  { id: string }
>(
  'ProjectTopology',
  `query ProjectTopology($id: String!) {
  project(id: $id) {
    id
    name
    environments(first: 100) { edges { node { id name } } }
    services(first: 100) { edges { node { id name } } }
  }
}`,
)

/** Unrendered: a reference such as `${{ollama.RAILWAY_PRIVATE_DOMAIN}}` comes back as written, not resolved. */
export const serviceVariablesQuery = read<
  { variables: Record<string, string | null> },
  { projectId: string; environmentId: string; serviceId: string }
>(
  'ServiceVariables',
  `query ServiceVariables($projectId: String!, $environmentId: String!, $serviceId: String!) {
  variables(projectId: $projectId, environmentId: $environmentId, serviceId: $serviceId, unrendered: true)
}`,
)

/** When each variable last changed, to tell whether the newest deployment already carries it. */
export interface VariableStamp {
  name: string
  serviceId: string | null
  updatedAt: string
}

export const variableTimestampsQuery = read<
  { environment: { variables: Connection<VariableStamp> } },
  { environmentId: string; after?: string | null }
>(
  'VariableTimestamps',
  `query VariableTimestamps($environmentId: String!, $after: String) {
  environment(id: $environmentId) {
    variables(first: 100, after: $after) {
      edges { node { name serviceId updatedAt } }
      pageInfo { hasNextPage endCursor }
    }
  }
}`,
)

export const serviceInstanceQuery = read<
  {
    serviceInstance: {
      id: string
      serviceName: string
      latestDeployment: DeploymentSummary | null
      activeDeployments: DeploymentSummary[]
    }
  },
  { environmentId: string; serviceId: string }
>(
  'ServiceInstance',
  `query ServiceInstance($environmentId: String!, $serviceId: String!) {
  serviceInstance(environmentId: $environmentId, serviceId: $serviceId) {
    id
    serviceName
    latestDeployment { ${deploymentFields} }
    activeDeployments { ${deploymentFields} }
  }
}`,
)

export const deploymentQuery = read<{ deployment: DeploymentSummary }, { id: string }>(
  'Deployment',
  `query Deployment($id: String!) { deployment(id: $id) { ${deploymentFields} } }`,
)

/** skipDeploys: the deploy is started on purpose afterwards, so its id is known and can be polled. */
export const upsertVariablesMutation = write<
  { variableCollectionUpsert: boolean },
  {
    input: {
      projectId: string
      environmentId: string
      serviceId: string
      variables: Record<string, string>
      skipDeploys: true
    }
  }
>(
  'UpsertVariables',
  'mutation UpsertVariables($input: VariableCollectionUpsertInput!) { variableCollectionUpsert(input: $input) }',
)

export const deployServiceMutation = write<
  { serviceInstanceDeployV2: string },
  { serviceId: string; environmentId: string }
>(
  'DeployService',
  `mutation DeployService($serviceId: String!, $environmentId: String!) {
  serviceInstanceDeployV2(serviceId: $serviceId, environmentId: $environmentId)
}`,
)

/** `railway down`: stops the running deployment; the service, its variables and volumes stay. */
export const removeDeploymentMutation = write<{ deploymentRemove: boolean }, { id: string }>(
  'RemoveDeployment',
  'mutation RemoveDeployment($id: String!) { deploymentRemove(id: $id) }',
)
