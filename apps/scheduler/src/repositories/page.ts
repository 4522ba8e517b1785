/** One page of a list the API serves, with the total the filters match. */
export interface Page<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
