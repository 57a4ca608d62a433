// Per-user flow control: the part of Kubernetes' API Priority and Fairness one server needs. Requests are
// counted per user while they run, in three budgets — watches, mutating and read-only requests — and one
// that would exceed a limit is answered 429 TooManyRequests with Retry-After at once (no queueing), so a user
// who floods the server is refused while others are still served:
//  - per user: at most maxRequestsInflightPerUser non-watch requests and maxWatchesPerUser open watches;
//  - per budget: at most its global cap (kube-apiserver's --max-requests-inflight and
//    --max-mutating-requests-inflight; watches have their own cap, as Kubernetes keeps them out of those);
//  - fairness: once a budget is half used ("contended"), a user may hold at most an equal share of it, with
//    one share kept free for a user not yet holding any; so one user (or a few) cannot take the budget away
//    from everyone else, however early they came.
// Users in an exempt group (system:masters: the admin and the controller manager, Kubernetes' `exempt`
// priority level) are neither limited nor counted.
import type { ServerResponse } from 'node:http';
import type { UserInfo } from '../auth/authenticate.ts';
import { tooManyRequests } from '../errors.ts';

export type RequestKind = 'watch' | 'mutating' | 'readonly';
export type RejectReason = 'per-user-limit' | 'fair-share' | 'global-limit';

export interface FlowControlLimits {
  /** Read-only requests in flight, all users (kube-apiserver --max-requests-inflight; 0: no limit). */
  maxRequestsInflight: number;
  /** Mutating requests in flight, all users (kube-apiserver --max-mutating-requests-inflight; 0: no limit). */
  maxMutatingRequestsInflight: number;
  /** Open watches, all users (0: no limit). */
  maxWatches: number;
  /** Non-watch requests one user may have in flight (0: no limit). */
  maxRequestsInflightPerUser: number;
  /** Watches one user may hold open (0: no limit). */
  maxWatchesPerUser: number;
  /** Users in these groups are not limited (Kubernetes' exempt priority level). */
  exemptGroups: string[];
  /** Sent as Retry-After and details.retryAfterSeconds. */
  retryAfterSeconds: number;
}

/**
 * Generous enough for normal use: kubectl needs a handful of requests, an informer-based controller one watch
 * per kind (~20–40); the globals are kube-apiserver's defaults. A watch costs at most the server's per-watch
 * buffer cap (4 MiB), so 100 watches bound what one user can pin to ~400 MiB.
 */
export const DEFAULT_FLOW_CONTROL_LIMITS: FlowControlLimits = {
  maxRequestsInflight: 400,
  maxMutatingRequestsInflight: 200,
  maxWatches: 5000,
  maxRequestsInflightPerUser: 100,
  maxWatchesPerUser: 100,
  exemptGroups: ['system:masters'],
  retryAfterSeconds: 1,
};

export interface Ticket {
  /** Gives the slot back; calling it again does nothing. */
  release(): void;
}

const EXEMPT: Ticket = { release: () => undefined };

/** 0 means unlimited, as with kube-apiserver's flags. */
function limitOf(value: number): number {
  return value > 0 ? value : Infinity;
}

/** One budget (watches, mutating or read-only requests): its holders and the global cap with fair shares. */
class Budget {
  total = 0;
  private readonly byUser = new Map<string, number>();

  constructor(readonly limit: number) {}

  held(user: string): number {
    return this.byUser.get(user) ?? 0;
  }

  /** Why `user` may not take one more slot now, or undefined when it may. */
  refusal(user: string): RejectReason | undefined {
    if (this.total >= this.limit) return 'global-limit';
    if (this.total < this.limit / 2) return undefined;
    // Contended: equal shares among the holders (counting this user), plus one share kept for a newcomer.
    const holders = this.byUser.size + (this.byUser.has(user) ? 0 : 1);
    const share = Math.max(1, Math.floor(this.limit / (holders + 1)));
    return this.held(user) >= share ? 'fair-share' : undefined;
  }

  take(user: string): void {
    this.total++;
    this.byUser.set(user, this.held(user) + 1);
  }

  give(user: string): void {
    this.total--;
    const left = this.held(user) - 1;
    if (left > 0) this.byUser.set(user, left);
    else this.byUser.delete(user);
  }
}

export class FlowControl {
  readonly limits: FlowControlLimits;
  private readonly budgets: Record<RequestKind, Budget>;

  constructor(
    limits: Partial<FlowControlLimits> = {},
    private readonly onReject?: (kind: RequestKind, reason: RejectReason) => void,
  ) {
    this.limits = { ...DEFAULT_FLOW_CONTROL_LIMITS, ...withoutUndefined(limits) };
    this.budgets = {
      watch: new Budget(limitOf(this.limits.maxWatches)),
      mutating: new Budget(limitOf(this.limits.maxMutatingRequestsInflight)),
      readonly: new Budget(limitOf(this.limits.maxRequestsInflight)),
    };
  }

  /**
   * Takes a slot for one request of `user`, or throws 429 TooManyRequests (an ApiError whose
   * details.retryAfterSeconds is the Retry-After to send). Release the ticket when the request ends.
   */
  admit(user: UserInfo, kind: RequestKind): Ticket {
    if (user.groups.some((group) => this.limits.exemptGroups.includes(group))) return EXEMPT;
    const reason = this.refusal(user.name, kind);
    if (reason) {
      this.onReject?.(kind, reason);
      throw tooManyRequests(this.limits.retryAfterSeconds);
    }
    const budget = this.budgets[kind];
    budget.take(user.name);
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        budget.give(user.name);
      },
    };
  }

  /** Slots in use: of one kind, or of one kind by one user. */
  inUse(kind: RequestKind, user?: string): number {
    return user === undefined ? this.budgets[kind].total : this.budgets[kind].held(user);
  }

  private refusal(user: string, kind: RequestKind): RejectReason | undefined {
    if (this.heldByUser(user, kind) >= this.perUserLimit(kind)) return 'per-user-limit';
    return this.budgets[kind].refusal(user);
  }

  /** Watches count alone; mutating and read-only requests count together against the per-user limit. */
  private heldByUser(user: string, kind: RequestKind): number {
    if (kind === 'watch') return this.budgets.watch.held(user);
    return this.budgets.mutating.held(user) + this.budgets.readonly.held(user);
  }

  private perUserLimit(kind: RequestKind): number {
    return limitOf(kind === 'watch' ? this.limits.maxWatchesPerUser : this.limits.maxRequestsInflightPerUser);
  }
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, entry]) => entry !== undefined)) as Partial<T>;
}

const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The budget a request counts against. */
export function requestKind(method: string | undefined, watch: boolean): RequestKind {
  if (watch) return 'watch';
  return MUTATING_METHODS.has((method ?? 'GET').toUpperCase()) ? 'mutating' : 'readonly';
}

/**
 * Admits one request and frees its slot when the response closes (finished or destroyed, so a watch holds
 * its slot exactly as long as it is open). A refusal is thrown as the 429, whose Status and Retry-After
 * header the router's error handling writes.
 */
export function admitRequest(flow: FlowControl, user: UserInfo, kind: RequestKind, response: ServerResponse): void {
  const ticket = flow.admit(user, kind);
  // A client that already went away gets no 'close' event any more.
  if (response.destroyed) ticket.release();
  else response.once('close', () => ticket.release());
}
