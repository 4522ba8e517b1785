/** The fields of Vast.ai's offer and instance objects that the broker reads (the API sends many more). */
export interface VastOffer {
  id: number;
  gpu_name: string;
  num_gpus: number;
  /** Per GPU, in MB. */
  gpu_ram: number;
  dph_total: number;
  dph_base?: number | null;
  /** $/GB/month. */
  storage_cost?: number | null;
  min_bid?: number | null;
  reliability?: number | null;
  reliability2?: number | null;
  verified?: boolean;
  direct_port_count?: number | null;
}

export interface VastInstance {
  id: number;
  label?: string | null;
  actual_status?: string | null;
  intended_status?: string | null;
  cur_state?: string | null;
  next_state?: string | null;
  status_msg?: string | null;
  ssh_host?: string | null;
  ssh_port?: number | null;
  public_ipaddr?: string | null;
  ports?: Record<string, Array<{ HostIp?: string; HostPort: string }> | null> | null;
  start_date?: number | null;
}

export type FilterOp = 'eq' | 'neq' | 'gt' | 'lt' | 'gte' | 'lte' | 'in' | 'notin';
export type VastOfferQuery = Record<string, Partial<Record<FilterOp, unknown>> | unknown> & {
  order?: Array<[string, 'asc' | 'desc']>;
  type?: 'on-demand' | 'bid';
  limit?: number;
  allocated_storage?: number;
};
