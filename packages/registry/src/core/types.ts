// The shapes the registry core and its users share.

/** Health of an instance. Discovery and routing default to `healthy`. */
export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export const HEALTH_STATUSES: readonly HealthStatus[] = ['healthy', 'degraded', 'unhealthy'];

/**
 * `unique`: one instance per name (1.x semantics; a second registration fails, and across a
 * partition a deterministic winner keeps the name). `group`: many instances under one name.
 */
export type RegistrationMode = 'unique' | 'group';

/** `cluster`: replicated through the CRDT (available, eventually consistent). `global`: through the ConsensusLog. */
export type RegistrationScope = 'cluster' | 'global';

/** One registered instance, as every lookup, discovery, route and watch returns it. Immutable. */
export interface ServiceInstance<Target = unknown> {
  /** Unique across the cluster: `node/incarnation/sequence` (or `global/…` for registerGlobal). */
  readonly id: string;
  readonly name: string;
  /** The node that registered it and owns it. */
  readonly node: string;
  readonly mode: RegistrationMode;
  readonly scope: RegistrationScope;
  /**
   * What the name resolves to: the registered value itself on its own node; on other nodes its
   * JSON form (a Pid arrives as its text form `<node.id.creation>`).
   */
  readonly target: Target;
  readonly capabilities: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Semantic version of the service, when it declared one. */
  readonly version: string | undefined;
  readonly serviceType: string | undefined;
  /** Where it runs (rack, availability zone), for `local-first` routing. */
  readonly zone: string | undefined;
  /** Relative share for `weighted` routing; 0 takes no weighted traffic. */
  readonly weight: number;
  readonly health: HealthStatus;
  /** The last load the service reported (`least-loaded` routing); 0 until it reports. */
  readonly load: number;
  /** Wall-clock ms on the owning node when it was registered; orders unique-name conflicts. */
  readonly registeredAt: number;
  /** The owning node's incarnation (grows when the node restarts or refutes a departure). */
  readonly incarnation: number;
  /** Grows with every change of this instance on its owner (the CRDT version). */
  readonly revision: number;
}
