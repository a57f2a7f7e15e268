/** Wire types of the Ollama HTTP API, as far as the pipeline reads them (shared/reference/ollama-api.md). */

/** One status line of a streamed `/api/pull`; `total`/`completed` are bytes of the layer being fetched. */
export interface PullStatus {
  status: string
  digest?: string
  total?: number
  completed?: number
}

export interface TagModel {
  name: string
  model: string
  modified_at: string
  size: number
  digest: string
  details?: Record<string, unknown>
}

export interface TagsResponse {
  models: TagModel[]
}

/** One entry of `/api/ps`: a model resident in memory. `size_vram` is the part of it on the GPU. */
export interface RunningModel {
  name: string
  model: string
  size: number
  size_vram: number
  expires_at?: string
  details?: Record<string, unknown>
}

export interface PsResponse {
  models: RunningModel[]
}

/** The extra object the zerollama server adds to final chunks (docs/catalog-api.md). */
export interface ReplyCost {
  gpu_seconds: number
  cost_usd: number
  cost_cop: number
  quota_seconds: number
}

/** Metrics of a final `done: true` chunk; durations are integer nanoseconds. */
export interface GenerationMetrics {
  done_reason?: string
  total_duration?: number
  load_duration?: number
  prompt_eval_count?: number
  prompt_eval_duration?: number
  eval_count?: number
  eval_duration?: number
  zerollama?: ReplyCost
}

export interface GenerateChunk extends GenerationMetrics {
  model: string
  created_at: string
  response: string
  done: boolean
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool'
  content: string
}

export interface ChatChunk extends GenerationMetrics {
  model: string
  created_at: string
  message: ChatMessage
  done: boolean
}

export interface GenerateRequest {
  model: string
  prompt: string
  options?: Record<string, number | string | string[]>
  keep_alive?: string | number
}

export interface ChatRequest {
  model: string
  messages: ChatMessage[]
  options?: Record<string, number | string | string[]>
  keep_alive?: string | number
}
