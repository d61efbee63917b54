/*
 * Granular local search for the LNS repair (see routing/descent.py for why it exists).
 *
 * The model is the subset of our OR-Tools routing model that this search can express
 * exactly: per-vehicle-class transit times (service folded in, as the OR-Tools "time"
 * dimension), per-vehicle-class kilometre costs, one start window per (vehicle, node)
 * (none = not allowed), a value per (vehicle, node), loads against per-vehicle
 * capacities, groups of nodes of which at most ``gcap`` may be served (the n-th visit of a
 * commune), and communes whose served nodes of one day all sit on one route (two stops of a
 * commune the same day are a full day there, by one bus or car). The objective is the
 * OR-Tools one minus a constant: kilometre cost minus served value.
 *
 * Time windows are checked in O(1) per move with Vidal et al.'s segment concatenation
 * (2013, "A hybrid genetic algorithm with adaptive diversity management..."): a segment
 * is (duration, time warp, earliest, latest start); a route is feasible iff its time warp
 * is 0. Moves: insert an unserved node, replace a served node by an unserved one, remove,
 * relocate, swap, 2-opt inside a route, or-opt (a string of 2-3 stops moved, as it is or
 * reversed), 2-opt* between routes of the same profile; candidates come from each node's
 * nearest neighbours (granular neighbourhoods), first improvement in random order.
 *
 * Pure C99 and the Python C API; no allocation inside the move loops.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int64_t i64;

typedef struct {
    i64 d, tw, e, l;
} Seg;

typedef struct {
    int n, m, nclass, nkm, nnb;
    i64 *transit; /* nclass * n * n */
    i64 *km;      /* nkm * n * n */
    int *vclass, *vkm, *vstart, *vend, *vprofile;
    i64 *vopen, *vclose, *vcap;
    i64 *wopen, *wclose, *value; /* m * n */
    i64 *load;
    int *group; /* -1: none */
    int ngroups;
    int multi; /* some commune has several nodes */
    int *gcap;  /* per group: most nodes served */
    int *gstart, *gnodes; /* nodes of group g: gnodes[gstart[g] .. gstart[g+1]-1] */
    int *commune; /* -1: none; a commune's nodes served on one day are all on one route */
    int *rank;    /* a commune's n-th visit copy (0 first): only first visits of other communes are neighbours */
    int ncommunes;
    int *cstart, *cnodes; /* nodes of commune c: cnodes[cstart[c] .. cstart[c+1]-1] */
    int *vday;  /* day of each vehicle (0..6) */
    /* Side constraints checked on the whole new route (O(length)), only where present. */
    i64 *drive;    /* nclass * n * n travel minutes (transit minus service); NULL without them */
    i64 *service;  /* n */
    i64 *vmaxdrive; /* per vehicle, -1 unlimited */
    i64 *blo, *bhi, *bdur; /* lunch break start window and duration, bdur 0 = none */
    int *needs_seq; /* vehicle has a break, a driving limit or a stop with several windows */
    /* Stops with several start windows on a vehicle: wopen/wclose hold their hull (a
     * necessary condition for the O(1) checks), the windows themselves are here. */
    i64 *split_at;  /* m * n: index of the first window in `split`, -1 for one window */
    i64 *split_n;   /* m * n: how many */
    i64 *split;     /* pairs (start, end) */
    int *nb; /* n * nnb nearest neighbours (customers only), -1 padded; nnb <= 64 */
    int *rnb_start, *rnb; /* reverse: entries rnb[rnb_start[w] .. rnb_start[w+1]-1] = u * 64 + t where nb[u][t] = w */
    int *is_place;
} Model;

typedef struct {
    Model *M;
    int **route;   /* route[v][0] = start, ..., route[v][len[v]+1] = end */
    int *len;      /* customers on route v */
    int *where_r;  /* route of node, -1 unserved */
    int *where_p;  /* position of node in its route (1..len) */
    Seg **pre;     /* pre[v][p] = seg(route[v][0..p]) */
    Seg **suf;     /* suf[v][p] = seg(route[v][p..len+1]) */
    i64 **lpre;    /* load of route[v][0..p] */
    i64 **kf, **kb; /* kilometres of route[v][0..p] driven forwards / backwards (2-opt, or-opt) */
    int *gcount;
    int *cday;     /* ncommunes * 7: nodes of the commune served that day */
    int *cveh;     /* ncommunes * 7: the route holding them (valid where cday > 0; set by refresh) */
    int *seq;      /* scratch route for side-constraint checks */
    uint64_t rng;
    /* When each route and group last changed, on one counter (`stamp`), against when each
     * node's moves were last tried (`tested`): a move between unchanged routes that failed
     * before fails again, so it is skipped (PyVRP's local search does the same). */
    int stamp;
    int *rmod, *gmod, *cmod, *tested;
    /* Bit t of smask[u]: u's t-th nearest neighbour is served. The move loops visit only
     * served neighbours; skipping the unserved ones one by one (three in four on a TOPTW)
     * was a third of the descent's time, mostly mispredicted branches. */
    uint64_t *smask;
} Sol;

static inline uint64_t next_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

static inline i64 T(const Model *M, int v, int a, int b) {
    return M->transit[((i64)M->vclass[v] * M->n + a) * M->n + b];
}
static inline i64 KM(const Model *M, int v, int a, int b) {
    return M->km[((i64)M->vkm[v] * M->n + a) * M->n + b];
}
static inline Seg node_seg(const Model *M, int v, int i) {
    Seg s;
    s.d = 0;
    s.tw = 0;
    if (M->is_place[i]) {
        s.e = M->vopen[v];
        s.l = M->vclose[v];
    } else {
        s.e = M->wopen[(i64)v * M->n + i];
        s.l = M->wclose[(i64)v * M->n + i];
    }
    return s;
}
static inline int allowed(const Model *M, int v, int i) {
    return M->wopen[(i64)v * M->n + i] <= M->wclose[(i64)v * M->n + i];
}
static inline i64 VAL(const Model *M, int v, int i) { return M->value[(i64)v * M->n + i]; }

/* a (ending at node x) + b (starting at node y) on vehicle v */
static inline Seg cat(const Model *M, int v, Seg a, int x, Seg b, int y) {
    Seg s;
    i64 delta = T(M, v, x, y);
    i64 dd = a.d - a.tw + delta;
    i64 wt = b.e - dd - a.l;
    if (wt < 0) wt = 0;
    i64 tw = a.e + dd - b.l;
    if (tw < 0) tw = 0;
    s.d = a.d + b.d + delta + wt;
    s.tw = a.tw + b.tw + tw;
    i64 e = b.e - dd;
    s.e = (e > a.e ? e : a.e) - wt;
    i64 l = b.l - dd;
    s.l = (l < a.l ? l : a.l) + tw;
    return s;
}

/* A commune's count or days changed: moves of its stops (unserved ones through gmod, served
 * ones through their routes, wherever they sit in a move) are worth trying again. */
static void touch_group(Sol *S, int g) {
    if (g < 0) return;
    const Model *M = S->M;
    S->gmod[g] = ++S->stamp;
    for (int k = M->gstart[g]; k < M->gstart[g + 1]; k++)
        if (S->where_r[M->gnodes[k]] >= 0) S->rmod[S->where_r[M->gnodes[k]]] = S->stamp;
}

/* A commune's days changed: moves of its stops in any group are worth trying again. */
static void touch_commune(Sol *S, int c) {
    if (c < 0) return;
    const Model *M = S->M;
    S->cmod[c] = ++S->stamp;
    for (int k = M->cstart[c]; k < M->cstart[c + 1]; k++)
        if (S->where_r[M->cnodes[k]] >= 0) S->rmod[S->where_r[M->cnodes[k]]] = S->stamp;
}

/* Node u joins (+1) or leaves (-1) vehicle v: its group's count and its commune's day. */
static void count_node(Sol *S, int u, int v, int delta) {
    const Model *M = S->M;
    int g = M->group[u], c = M->commune[u];
    if (g >= 0) { S->gcount[g] += delta; touch_group(S, g); }
    if (c >= 0) { S->cday[c * 7 + M->vday[v]] += delta; touch_commune(S, c); }
}

static void refresh(Sol *S, int v) {
    const Model *M = S->M;
    S->rmod[v] = ++S->stamp;
    int *r = S->route[v];
    int L = S->len[v] + 2;
    S->pre[v][0] = node_seg(M, v, r[0]);
    S->lpre[v][0] = S->kf[v][0] = S->kb[v][0] = 0;
    for (int p = 1; p < L; p++) {
        S->pre[v][p] = cat(M, v, S->pre[v][p - 1], r[p - 1], node_seg(M, v, r[p]), r[p]);
        S->lpre[v][p] = S->lpre[v][p - 1] + (M->is_place[r[p]] ? 0 : M->load[r[p]]);
        S->kf[v][p] = S->kf[v][p - 1] + KM(M, v, r[p - 1], r[p]);
        S->kb[v][p] = S->kb[v][p - 1] + KM(M, v, r[p], r[p - 1]);
    }
    S->suf[v][L - 1] = node_seg(M, v, r[L - 1]);
    for (int p = L - 2; p >= 0; p--) S->suf[v][p] = cat(M, v, node_seg(M, v, r[p]), r[p], S->suf[v][p + 1], r[p + 1]);
    for (int p = 1; p < L - 1; p++) {
        S->where_r[r[p]] = v;
        S->where_p[r[p]] = p;
        if (M->commune[r[p]] >= 0) S->cveh[M->commune[r[p]] * 7 + M->vday[v]] = v;
    }
}

static i64 route_load(const Sol *S, int v) { return S->lpre[v][S->len[v] + 1]; }

/* ---- move application ---------------------------------------------------------- */

/* Node w becomes served (on) or unserved: update the masks of the nodes it is a neighbour of. */
static void mark_served(Sol *S, int w, int on) {
    const Model *M = S->M;
    for (int k = M->rnb_start[w]; k < M->rnb_start[w + 1]; k++) {
        int e = M->rnb[k];
        uint64_t bit = (uint64_t)1 << (e & 63);
        if (on) S->smask[e >> 6] |= bit; else S->smask[e >> 6] &= ~bit;
    }
}

/* Served neighbours of u, nearest first: for (NB_EACH(S, u, t, bits)) { w = nb[u][t] ... }
 * (__builtin_ctzll: GCC and Clang, the compilers the optional extension is built with). */
#define NB_EACH(S, u, t, bits) uint64_t bits = (S)->smask[u]; bits && ((t) = __builtin_ctzll(bits), 1); bits &= bits - 1

static void insert_at(Sol *S, int v, int p, int u) { /* u becomes position p (1..len+1) */
    int *r = S->route[v];
    memmove(r + p + 1, r + p, sizeof(int) * (S->len[v] + 2 - p));
    r[p] = u;
    S->len[v]++;
    mark_served(S, u, 1);
    count_node(S, u, v, 1);
}
static void remove_at(Sol *S, int v, int p) {
    int *r = S->route[v];
    int u = r[p];
    memmove(r + p, r + p + 1, sizeof(int) * (S->len[v] + 1 - p));
    S->len[v]--;
    S->where_r[u] = -1;
    mark_served(S, u, 0);
    S->tested[u] = -1; /* its insertions were never tried (as a served stop it had other moves) */
    count_node(S, u, v, -1);
}

/* ---- evaluation helpers ------------------------------------------------------------ */

/* Segment on vehicle v of route src's positions [a, b] (inclusive), in reverse order when
 * rev; computed on the fly (strings of a few stops, or the middle of one route). */
static Seg str_seg(const Sol *S, int v, int src, int a, int b, int rev) {
    const Model *M = S->M;
    const int *r = S->route[src];
    int step = rev ? -1 : 1, p = rev ? b : a, stop = rev ? a : b;
    Seg s = node_seg(M, v, r[p]);
    while (p != stop) {
        int x = r[p];
        p += step;
        s = cat(M, v, s, x, node_seg(M, v, r[p]), r[p]);
    }
    return s;
}
static Seg mid_seg(const Sol *S, int v, int a, int b) { return str_seg(S, v, v, a, b, 0); }

/* Kilometre cost on vehicle v of the arcs inside route src's positions [a, b], in reverse
 * order when rev (costs may be asymmetric: one-way roads). */
static i64 str_km(const Sol *S, int v, int src, int a, int b, int rev) {
    if (S->M->vkm[v] == S->M->vkm[src]) return rev ? S->kb[src][b] - S->kb[src][a] : S->kf[src][b] - S->kf[src][a];
    const int *r = S->route[src];
    i64 total = 0;
    for (int p = a; p < b; p++) total += rev ? KM(S->M, v, r[p + 1], r[p]) : KM(S->M, v, r[p], r[p + 1]);
    return total;
}

/* u may join vehicle v, in place of `replaced` (served on v) or -1: its group has room and
 * its commune is not served that day by another route. */
static int group_free_for(const Sol *S, int u, int v, int replaced) {
    const Model *M = S->M;
    int g = M->group[u], c = M->commune[u];
    if (g >= 0 && !(replaced >= 0 && M->group[replaced] == g) && S->gcount[g] >= M->gcap[g]) return 0;
    if (c < 0 || (replaced >= 0 && M->commune[replaced] == c)) return 1;
    int k = c * 7 + M->vday[v];
    return S->cday[k] == 0 || S->cveh[k] == v;
}

/* u (served on vehicle from) may move to vehicle to, where `leaving` (or -1) goes from to to
 * from: afterwards, u's commune is served on to's day by to alone. */
static int group_day_ok(const Sol *S, int u, int from, int to, int leaving) {
    const Model *M = S->M;
    int c = M->commune[u];
    if (c < 0 || from == to) return 1;
    int dt = M->vday[to], same_day = M->vday[from] == dt, k = c * 7 + dt;
    int others = S->cday[k] - same_day;
    if (leaving >= 0 && M->commune[leaving] == c) {
        if (same_day) return 0; /* leaving would land on from, beside nothing of its own route */
        others--;
    }
    if (others <= 0) return 1;
    return !same_day && S->cveh[k] == to;
}

/* Earliest start at node b of vehicle v when arriving at `arrival`, in any of its windows. */
static int next_start(const Model *M, int v, int b, i64 arrival, i64 *t) {
    i64 k = M->is_place[b] ? -1 : M->split_at[(i64)v * M->n + b];
    if (k < 0) {
        Seg w = node_seg(M, v, b);
        *t = arrival > w.e ? arrival : w.e;
        return *t <= w.l;
    }
    i64 cnt = M->split_n[(i64)v * M->n + b];
    for (i64 q = 0; q < cnt; q++) {
        i64 lo = M->split[2 * (k + q)], hi = M->split[2 * (k + q) + 1];
        if (arrival <= hi) {
            *t = arrival > lo ? arrival : lo;
            return 1;
        }
    }
    return 0;
}

/* Lunch break, driving limit and split windows of vehicle v on the route seq[0..L-1].
 * The earliest schedule is the best one for every later window; the break goes in one
 * of the gaps (on the way, before leaving or after returning: waiting is free), as late
 * into the drive as its window allows. */
static int seq_ok(const Sol *S, int v, const int *seq, int L) {
    const Model *M = S->M;
    const i64 *drv = M->drive ? M->drive + (i64)M->vclass[v] * M->n * M->n : NULL;
    int n = M->n;
    if (M->vmaxdrive[v] >= 0) {
        i64 total = 0;
        for (int p = 1; p < L; p++) total += drv[(i64)seq[p - 1] * n + seq[p]];
        if (total > M->vmaxdrive[v]) return 0;
    }
    if (M->bdur[v] <= 0) {
        i64 t = M->vopen[v];
        for (int p = 1; p < L; p++) {
            int a = seq[p - 1], b = seq[p];
            if (!next_start(M, v, b, t + T(M, v, a, b), &t)) return 0;
        }
        return 1;
    }
    for (int gap = 0; gap < L - 1; gap++) {
        i64 t = M->vopen[v];
        int ok = 1;
        for (int p = 1; p < L && ok; p++) {
            int a = seq[p - 1], b = seq[p];
            i64 travel = drv[(i64)a * n + b];
            i64 end = t + (M->is_place[a] ? 0 : M->service[a]);
            i64 arrival;
            if (p - 1 == gap) {
                i64 x = M->bhi[v] - end;
                if (x < 0) { ok = 0; break; }
                if (x > travel) x = travel;
                i64 tb = end + x > M->blo[v] ? end + x : M->blo[v];
                arrival = tb + M->bdur[v] + travel - x;
            } else {
                arrival = end + travel;
            }
            if (!next_start(M, v, b, arrival, &t)) ok = 0;
        }
        if (ok) return 1;
    }
    return 0;
}

/* seq_ok of route v with positions [from, to) replaced by `mid` (k nodes). */
static int splice_ok(const Sol *S, int v, int from, int to, const int *mid, int k) {
    if (!S->M->needs_seq[v]) return 1;
    int *r = S->route[v], *seq = S->seq, L = 0;
    for (int p = 0; p < from; p++) seq[L++] = r[p];
    for (int p = 0; p < k; p++) seq[L++] = mid[p];
    for (int p = to; p < S->len[v] + 2; p++) seq[L++] = r[p];
    return seq_ok(S, v, seq, L);
}

/* Try inserting unserved u between positions p-1 and p of route v. Returns gain (>0 improves) or 0. */
static i64 eval_insert(const Sol *S, int v, int p, int u) {
    const Model *M = S->M;
    if (!allowed(M, v, u)) return 0;
    if (M->vcap[v] >= 0 && route_load(S, v) + M->load[u] > M->vcap[v]) return 0;
    int *r = S->route[v];
    int a = r[p - 1], b = r[p];
    i64 gain = VAL(M, v, u) - (KM(M, v, a, u) + KM(M, v, u, b) - KM(M, v, a, b));
    if (gain <= 0) return 0;
    Seg s = cat(M, v, S->pre[v][p - 1], a, node_seg(M, v, u), u);
    if (s.tw) return 0;
    s = cat(M, v, s, u, S->suf[v][p], b);
    if (s.tw) return 0;
    if (!group_free_for(S, u, v, -1) || !splice_ok(S, v, p, p, &u, 1)) return 0;
    return gain;
}

/* Replace the node at position p of route v by unserved u. */
static i64 eval_replace(const Sol *S, int v, int p, int u) {
    const Model *M = S->M;
    if (!allowed(M, v, u)) return 0;
    int *r = S->route[v];
    int w = r[p], a = r[p - 1], b = r[p + 1];
    if (M->vcap[v] >= 0 && route_load(S, v) - M->load[w] + M->load[u] > M->vcap[v]) return 0;
    i64 gain = VAL(M, v, u) - VAL(M, v, w) -
               (KM(M, v, a, u) + KM(M, v, u, b) - KM(M, v, a, w) - KM(M, v, w, b));
    if (gain <= 0) return 0;
    Seg s = cat(M, v, S->pre[v][p - 1], a, node_seg(M, v, u), u);
    if (s.tw) return 0;
    s = cat(M, v, s, u, S->suf[v][p + 1], b);
    if (s.tw) return 0;
    if (!group_free_for(S, u, v, w) || !splice_ok(S, v, p, p + 1, &u, 1)) return 0;
    return gain;
}

static i64 eval_remove(const Sol *S, int v, int p) {
    const Model *M = S->M;
    int *r = S->route[v];
    int w = r[p], a = r[p - 1], b = r[p + 1];
    i64 gain = KM(M, v, a, w) + KM(M, v, w, b) - KM(M, v, a, b) - VAL(M, v, w);
    if (gain <= 0) return 0;
    Seg s = cat(M, v, S->pre[v][p - 1], a, S->suf[v][p + 1], b);
    if (s.tw) return 0;
    if (!splice_ok(S, v, p, p + 1, NULL, 0)) return 0;
    return gain;
}

/* Move the string of k stops starting at served u (positions pu..pu+k-1 of its route ru),
 * reversed when rev, to between positions q-1 and q of route v: relocate for k = 1, or-opt
 * for 2-3 (long routes through wide windows need whole strings moved at once). */
static i64 eval_move(const Sol *S, int u, int k, int rev, int v, int q) {
    const Model *M = S->M;
    int ru = S->where_r[u], pu = S->where_p[u], last = pu + k - 1;
    if (last > S->len[ru]) return 0;
    if (ru == v && q >= pu && q <= last + 1) return 0;
    const int *R = S->route[ru], *r = S->route[v];
    int first = R[rev ? last : pu], tail = R[rev ? pu : last];
    i64 removed = KM(M, ru, R[pu - 1], R[pu]) + KM(M, ru, R[last], R[last + 1]) - KM(M, ru, R[pu - 1], R[last + 1]) +
                  str_km(S, ru, ru, pu, last, 0);
    i64 added = KM(M, v, r[q - 1], first) + KM(M, v, tail, r[q]) - KM(M, v, r[q - 1], r[q]) +
                str_km(S, v, ru, pu, last, rev);
    i64 gain = removed - added, load = 0;
    if (ru != v) {
        for (int p = pu; p <= last; p++) {
            if (!allowed(M, v, R[p])) return 0;
            gain += VAL(M, v, R[p]) - VAL(M, ru, R[p]);
            load += M->load[R[p]];
        }
    }
    if (gain <= 0) return 0;
    Seg str = str_seg(S, v, ru, pu, last, rev), s;
    int moved[3];
    for (int p = 0; p < k; p++) moved[p] = R[rev ? last - p : pu + p];
    if (ru != v) {
        if (M->vcap[v] >= 0 && route_load(S, v) + load > M->vcap[v]) return 0;
        s = cat(M, ru, S->pre[ru][pu - 1], R[pu - 1], S->suf[ru][last + 1], R[last + 1]);
        if (s.tw) return 0;
        s = cat(M, v, S->pre[v][q - 1], r[q - 1], str, first);
        if (s.tw) return 0;
        s = cat(M, v, s, tail, S->suf[v][q], r[q]);
        if (s.tw) return 0;
        for (int p = 0; p < k; p++)
            if (!group_day_ok(S, moved[p], ru, v, -1)) return 0;
        if (!splice_ok(S, ru, pu, last + 1, NULL, 0) || !splice_ok(S, v, q, q, moved, k)) return 0;
        return gain;
    }
    if (q < pu) { /* ... r[q-1] string r[q..pu-1] r[last+1] ... */
        s = cat(M, v, S->pre[v][q - 1], r[q - 1], str, first);
        if (s.tw) return 0;
        s = cat(M, v, s, tail, mid_seg(S, v, q, pu - 1), r[q]);
        if (s.tw) return 0;
        s = cat(M, v, s, r[pu - 1], S->suf[v][last + 1], r[last + 1]);
    } else { /* q > last + 1: ... r[pu-1] r[last+1..q-1] string r[q] ... */
        s = cat(M, v, S->pre[v][pu - 1], r[pu - 1], mid_seg(S, v, last + 1, q - 1), r[last + 1]);
        if (s.tw) return 0;
        s = cat(M, v, s, r[q - 1], str, first);
        if (s.tw) return 0;
        s = cat(M, v, s, tail, S->suf[v][q], r[q]);
    }
    if (s.tw) return 0;
    if (M->needs_seq[v]) { /* the route with the string moved to before q */
        int L = 0, *seq = S->seq;
        for (int p = 0; p < S->len[v] + 2; p++) {
            if (p == q)
                for (int t = 0; t < k; t++) seq[L++] = moved[t];
            if (p < pu || p > last) seq[L++] = r[p];
        }
        if (!seq_ok(S, v, seq, L)) return 0;
    }
    return gain;
}

static void apply_move(Sol *S, int u, int k, int rev, int v, int q) {
    int ru = S->where_r[u], pu = S->where_p[u], moved[3];
    for (int p = 0; p < k; p++) moved[p] = S->route[ru][rev ? pu + k - 1 - p : pu + p];
    for (int p = 0; p < k; p++) remove_at(S, ru, pu);
    if (ru == v && pu < q) q -= k;
    for (int p = 0; p < k; p++) insert_at(S, v, q + p, moved[p]);
    refresh(S, ru);
    if (v != ru) refresh(S, v);
}

/* 2-opt within route v: reverse positions [i, j] (1 <= i < j <= len). */
static i64 eval_reverse(const Sol *S, int v, int i, int j) {
    const Model *M = S->M;
    const int *r = S->route[v];
    i64 gain = KM(M, v, r[i - 1], r[i]) + KM(M, v, r[j], r[j + 1]) + str_km(S, v, v, i, j, 0) -
               KM(M, v, r[i - 1], r[j]) - KM(M, v, r[i], r[j + 1]) - str_km(S, v, v, i, j, 1);
    if (gain <= 0) return 0;
    Seg s = cat(M, v, S->pre[v][i - 1], r[i - 1], str_seg(S, v, v, i, j, 1), r[j]);
    if (s.tw) return 0;
    s = cat(M, v, s, r[i], S->suf[v][j + 1], r[j + 1]);
    if (s.tw) return 0;
    if (M->needs_seq[v]) {
        int L = S->len[v] + 2, *seq = S->seq;
        memcpy(seq, r, sizeof(int) * L);
        for (int p = i; p <= j; p++) seq[p] = r[i + j - p];
        if (!seq_ok(S, v, seq, L)) return 0;
    }
    return gain;
}

static void apply_reverse(Sol *S, int v, int i, int j) {
    int *r = S->route[v];
    for (; i < j; i++, j--) {
        int t = r[i]; r[i] = r[j]; r[j] = t;
    }
    refresh(S, v);
}

/* Swap served u and served w. */
static i64 eval_swap(const Sol *S, int u, int w) {
    const Model *M = S->M;
    int ru = S->where_r[u], pu = S->where_p[u], rw = S->where_r[w], pw = S->where_p[w];
    if (ru == rw) {
        if (pu > pw) {
            int t = u; u = w; w = t;
            t = pu; pu = pw; pw = t;
        }
        if (pw == pu + 1) return 0; /* adjacent: relocate covers it */
        int v = ru;
        int *r = S->route[v];
        i64 before = KM(M, v, r[pu - 1], u) + KM(M, v, u, r[pu + 1]) + KM(M, v, r[pw - 1], w) + KM(M, v, w, r[pw + 1]);
        i64 after = KM(M, v, r[pu - 1], w) + KM(M, v, w, r[pu + 1]) + KM(M, v, r[pw - 1], u) + KM(M, v, u, r[pw + 1]);
        i64 gain = before - after;
        if (gain <= 0) return 0;
        Seg s = cat(M, v, S->pre[v][pu - 1], r[pu - 1], node_seg(M, v, w), w);
        if (s.tw) return 0;
        Seg m = mid_seg(S, v, pu + 1, pw - 1);
        s = cat(M, v, s, w, m, r[pu + 1]);
        if (s.tw) return 0;
        s = cat(M, v, s, r[pw - 1], node_seg(M, v, u), u);
        if (s.tw) return 0;
        s = cat(M, v, s, u, S->suf[v][pw + 1], r[pw + 1]);
        if (s.tw) return 0;
        if (M->needs_seq[v]) {
            int L = S->len[v] + 2, *seq = S->seq;
            memcpy(seq, r, sizeof(int) * L);
            seq[pu] = w;
            seq[pw] = u;
            if (!seq_ok(S, v, seq, L)) return 0;
        }
        return gain;
    }
    if (!allowed(M, ru, w) || !allowed(M, rw, u)) return 0;
    if (M->vcap[ru] >= 0 && route_load(S, ru) - M->load[u] + M->load[w] > M->vcap[ru]) return 0;
    if (M->vcap[rw] >= 0 && route_load(S, rw) - M->load[w] + M->load[u] > M->vcap[rw]) return 0;
    int *A = S->route[ru], *B = S->route[rw];
    i64 gain = KM(M, ru, A[pu - 1], u) + KM(M, ru, u, A[pu + 1]) - KM(M, ru, A[pu - 1], w) - KM(M, ru, w, A[pu + 1]) +
               KM(M, rw, B[pw - 1], w) + KM(M, rw, w, B[pw + 1]) - KM(M, rw, B[pw - 1], u) - KM(M, rw, u, B[pw + 1]) +
               VAL(M, ru, w) - VAL(M, ru, u) + VAL(M, rw, u) - VAL(M, rw, w);
    if (gain <= 0) return 0;
    Seg s = cat(M, ru, S->pre[ru][pu - 1], A[pu - 1], node_seg(M, ru, w), w);
    if (s.tw) return 0;
    s = cat(M, ru, s, w, S->suf[ru][pu + 1], A[pu + 1]);
    if (s.tw) return 0;
    s = cat(M, rw, S->pre[rw][pw - 1], B[pw - 1], node_seg(M, rw, u), u);
    if (s.tw) return 0;
    s = cat(M, rw, s, u, S->suf[rw][pw + 1], B[pw + 1]);
    if (s.tw) return 0;
    if (!group_day_ok(S, u, ru, rw, w) || !group_day_ok(S, w, rw, ru, u)) return 0;
    if (!splice_ok(S, ru, pu, pu + 1, &w, 1) || !splice_ok(S, rw, pw, pw + 1, &u, 1)) return 0;
    return gain;
}

/* 2-opt*: route a keeps [0..pa] then takes b's customers after pb; b the reverse. */
static i64 eval_two_opt_star(const Sol *S, int a, int pa, int b, int pb) {
    const Model *M = S->M;
    if (a == b || M->vprofile[a] != M->vprofile[b]) return 0;
    int *A = S->route[a], *B = S->route[b];
    int la = S->len[a], lb = S->len[b];
    if (M->multi) { /* a commune with two stops that day stays on one route: leave it alone */
        int d = M->vday[a];
        for (int p = pa + 1; p <= la; p++)
            if (M->commune[A[p]] >= 0 && S->cday[M->commune[A[p]] * 7 + d] > 1) return 0;
        for (int p = pb + 1; p <= lb; p++)
            if (M->commune[B[p]] >= 0 && S->cday[M->commune[B[p]] * 7 + d] > 1) return 0;
    }
    /* the tails (customers after pa / pb) change route; ends stay */
    int na = A[pa + 1], nb = B[pb + 1];
    if (pa == la && pb == lb) return 0;
    i64 gain = KM(M, a, A[pa], na) + KM(M, b, B[pb], nb) - KM(M, a, A[pa], pb < lb ? nb : A[la + 1]) -
               KM(M, b, B[pb], pa < la ? na : B[lb + 1]);
    /* same profile: same km class, so the tails' inner arcs cost the same; ends identical */
    if (gain <= 0) return 0;
    if (M->vcap[a] >= 0) {
        i64 la_load = S->lpre[a][pa] + (route_load(S, b) - S->lpre[b][pb]);
        i64 lb_load = S->lpre[b][pb] + (route_load(S, a) - S->lpre[a][pa]);
        if (la_load > M->vcap[a] || lb_load > M->vcap[b]) return 0;
    }
    /* same profile: suffix segments (which end at the common end node) are valid on both */
    Seg s = cat(M, a, S->pre[a][pa], A[pa], S->suf[b][pb + 1], B[pb + 1]);
    if (s.tw) return 0;
    s = cat(M, b, S->pre[b][pb], B[pb], S->suf[a][pa + 1], A[pa + 1]);
    if (s.tw) return 0;
    if (M->needs_seq[a]) { /* same profile: b needs it too */
        if (!splice_ok(S, a, pa + 1, la + 2, B + pb + 1, lb + 1 - pb)) return 0;
        if (!splice_ok(S, b, pb + 1, lb + 2, A + pa + 1, la + 1 - pa)) return 0;
    }
    return gain;
}

static void apply_two_opt_star(Sol *S, int a, int pa, int b, int pb) {
    int n = S->M->n;
    int *A = S->route[a], *B = S->route[b];
    int la = S->len[a], lb = S->len[b];
    int *tmp = (int *)malloc(sizeof(int) * (n + 2));
    int ta = la - pa, tb = lb - pb; /* tail lengths (customers) */
    memcpy(tmp, A + pa + 1, sizeof(int) * ta);
    int enda = A[la + 1], endb = B[lb + 1];
    memcpy(A + pa + 1, B + pb + 1, sizeof(int) * tb);
    A[pa + 1 + tb] = enda;
    memcpy(B + pb + 1, tmp, sizeof(int) * ta);
    B[pb + 1 + ta] = endb;
    S->len[a] = pa + tb;
    S->len[b] = pb + ta;
    free(tmp);
    refresh(S, a);
    refresh(S, b);
}

/* ---- the descent ------------------------------------------------------------------- */

static i64 descend(Sol *S, int max_passes) {
    const Model *M = S->M;
    int n = M->n, m = M->m;
    int *order = (int *)malloc(sizeof(int) * n);
    int cnt = 0;
    for (int i = 0; i < n; i++)
        if (!M->is_place[i]) order[cnt++] = i;
    i64 total = 0;
    int improved = 1;
    for (int pass = 0; improved && pass < max_passes; pass++) {
        improved = 0;
        for (int k = cnt - 1; k > 0; k--) {
            int j = (int)(next_rand(&S->rng) % (uint64_t)(k + 1));
            int t = order[k]; order[k] = order[j]; order[j] = t;
        }
        for (int k = 0; k < cnt; k++) {
            int u = order[k];
            int ru = S->where_r[u];
            i64 g;
            int last = S->tested[u];
            S->tested[u] = S->stamp;
            int gfresh = (M->group[u] >= 0 && S->gmod[M->group[u]] > last) ||
                         (M->commune[u] >= 0 && S->cmod[M->commune[u]] > last);
#define FRESH(r) (S->rmod[r] > last || gfresh)
            if (ru < 0) {
                if (M->group[u] >= 0 && S->gcount[M->group[u]] >= M->gcap[M->group[u]]) {
                    /* only a replacement within its group can serve it */
                } else {
                    /* insert next to a served neighbour, or into an empty route */
                    int done = 0, near = S->smask[u] != 0, t;
                    for (NB_EACH(S, u, t, bits)) {
                        int w = M->nb[(i64)u * M->nnb + t];
                        int rw = S->where_r[w];
                        if (!FRESH(rw)) continue;
                        int pw = S->where_p[w];
                        if ((g = eval_insert(S, rw, pw + 1, u)) > 0) { insert_at(S, rw, pw + 1, u); refresh(S, rw); total += g; done = 1; break; }
                        if ((g = eval_insert(S, rw, pw, u)) > 0) { insert_at(S, rw, pw, u); refresh(S, rw); total += g; done = 1; break; }
                    }
                    if (!done) {
                        /* into an empty route (the first of each profile), or, when none of
                         * its nearest stops is served (a late-window stop beyond a route that
                         * ends early), at either end of a route */
                        int seen_profile_empty = -1;
                        for (int v = 0; v < m && !done; v++) { /* rare: no FRESH shortcut */
                            if (S->len[v] == 0) {
                                if (M->vprofile[v] == seen_profile_empty) continue;
                                seen_profile_empty = M->vprofile[v];
                            } else if (near) {
                                continue;
                            }
                            int ends[2] = {1, S->len[v] + 1};
                            for (int e = 0; e < (S->len[v] ? 2 : 1) && !done; e++) {
                                if ((g = eval_insert(S, v, ends[e], u)) > 0) {
                                    insert_at(S, v, ends[e], u);
                                    refresh(S, v);
                                    total += g;
                                    done = 1;
                                }
                            }
                        }
                    }
                    if (done) { improved = 1; continue; }
                }
                /* replace a served neighbour */
                int t;
                for (NB_EACH(S, u, t, bits)) {
                    int w = M->nb[(i64)u * M->nnb + t];
                    int rw = S->where_r[w];
                    if (!FRESH(rw)) continue;
                    int pw = S->where_p[w];
                    if ((g = eval_replace(S, rw, pw, u)) > 0) {
                        S->route[rw][pw] = u;
                        S->where_r[w] = -1;
                        mark_served(S, w, 0);
                        mark_served(S, u, 1);
                        S->tested[w] = -1;
                        count_node(S, w, rw, -1);
                        count_node(S, u, rw, 1);
                        refresh(S, rw);
                        total += g;
                        improved = 1;
                        break;
                    }
                }
                continue;
            }
            int pu = S->where_p[u];
            if (FRESH(ru) && (g = eval_remove(S, ru, pu)) > 0) {
                remove_at(S, ru, pu);
                refresh(S, ru);
                total += g;
                improved = 1;
                continue;
            }
            int moved = 0, t;
            for (NB_EACH(S, u, t, bits)) {
                int w = M->nb[(i64)u * M->nnb + t];
                int rw = S->where_r[w];
                if (!(FRESH(ru) || FRESH(rw))) continue;
                int pw = S->where_p[w];
                ru = S->where_r[u];
                pu = S->where_p[u];
                /* relocate u after w, then before w */
                for (int side = 0; side < 2 && !moved; side++) {
                    int q = side == 0 ? pw + 1 : pw;
                    if ((g = eval_move(S, u, 1, 0, rw, q)) > 0) {
                        apply_move(S, u, 1, 0, rw, q);
                        total += g;
                        moved = 1;
                    }
                }
                if (moved) break;
                if ((g = eval_swap(S, u, w)) > 0) {
                    S->route[ru][pu] = w;
                    S->route[rw][pw] = u;
                    if (ru != rw) {
                        count_node(S, u, ru, -1);
                        count_node(S, u, rw, 1);
                        count_node(S, w, rw, -1);
                        count_node(S, w, ru, 1);
                    }
                    refresh(S, ru);
                    if (rw != ru) refresh(S, rw);
                    total += g;
                    moved = 1;
                    break;
                }
                /* 2-opt inside the route: reverse so that u and w become neighbours */
                if (ru == rw) {
                    int i = pu < pw ? pu + 1 : pw, j = pu < pw ? pw : pu - 1;
                    if (i < j && (g = eval_reverse(S, ru, i, j)) > 0) {
                        apply_reverse(S, ru, i, j);
                        total += g;
                        moved = 1;
                        break;
                    }
                }
                /* or-opt: u and the next one or two stops, as they are or reversed, after or before w */
                for (int k = 2; k <= 3 && !moved; k++)
                    for (int c = 0; c < 4 && !moved; c++) {
                        int rev = c & 1, q = c < 2 ? pw + 1 : pw;
                        if ((g = eval_move(S, u, k, rev, rw, q)) > 0) {
                            apply_move(S, u, k, rev, rw, q);
                            total += g;
                            moved = 1;
                        }
                    }
                if (moved) break;
                if (ru != rw) {
                    /* 2-opt*: u then w's successor, and w's predecessor then u's successor */
                    if ((g = eval_two_opt_star(S, ru, pu, rw, pw - 1)) > 0) {
                        apply_two_opt_star(S, ru, pu, rw, pw - 1);
                        total += g;
                        moved = 1;
                        break;
                    }
                    if ((g = eval_two_opt_star(S, ru, pu - 1, rw, pw)) > 0) {
                        apply_two_opt_star(S, ru, pu - 1, rw, pw);
                        total += g;
                        moved = 1;
                        break;
                    }
                }
            }
            if (moved) improved = 1;
#undef FRESH
        }
    }
    free(order);
    return total;
}

/* ---- ratio recreate ------------------------------------------------------------------ */

/* Shift of route v's duration (waiting included) when unserved u goes in at position p. */
static i64 insert_shift(const Sol *S, int v, int p, int u) {
    const Model *M = S->M;
    int *r = S->route[v];
    Seg s = cat(M, v, S->pre[v][p - 1], r[p - 1], node_seg(M, v, u), u);
    s = cat(M, v, s, u, S->suf[v][p], r[p]);
    return s.d - S->pre[v][S->len[v] + 1].d;
}

/* Greedy recreate after a ruin, before the descent (the insertion of Vansteenwegen et al.'s
 * TOPTW iterated local search): among the removed stops and their unserved neighbours,
 * insert the one of best gain^2 / (time shift + 1), next to one of its served neighbours,
 * until none fits. The descent inserts in random order, filling freed time with whatever
 * comes first; on one long tour through wide windows that locks out better stops (pr16 with
 * one vehicle: 640-647 over ten seeds, 650 on every seed with this recreate on a fifth of
 * the steps, benchmarks/README.md). */
static void ratio_insert(Sol *S, const i64 *removed, Py_ssize_t k) {
    const Model *M = S->M;
    int n = M->n, nc = 0;
    int *cand = (int *)malloc(sizeof(int) * n);
    char *in = (char *)calloc(n, 1);
    for (Py_ssize_t t = 0; t < k; t++) {
        int u = (int)removed[t];
        if (!in[u] && S->where_r[u] < 0) { in[u] = 1; cand[nc++] = u; }
        for (int q = 0; q < M->nnb; q++) {
            int w = M->nb[(i64)u * M->nnb + q];
            if (w < 0) break;
            if (!in[w] && S->where_r[w] < 0) { in[w] = 1; cand[nc++] = w; }
        }
    }
    for (;;) {
        double best = 0;
        int bu = -1, bv = -1, bp = -1, bk = -1;
        for (int c = 0; c < nc; c++) {
            int u = cand[c];
            if (S->where_r[u] >= 0) continue;
            int t;
            for (NB_EACH(S, u, t, bits)) {
                int w = M->nb[(i64)u * M->nnb + t];
                int rw = S->where_r[w];
                for (int side = 0; side < 2; side++) {
                    int p = S->where_p[w] + side;
                    i64 g = eval_insert(S, rw, p, u);
                    if (g <= 0) continue;
                    i64 shift = insert_shift(S, rw, p, u);
                    double ratio = (double)g * (double)g / (double)(shift > 0 ? shift + 1 : 1);
                    if (ratio > best) { best = ratio; bu = u; bv = rw; bp = p; bk = c; }
                }
            }
        }
        if (bu < 0) break;
        insert_at(S, bv, bp, bu);
        refresh(S, bv);
        cand[bk] = cand[--nc];
    }
    free(cand);
    free(in);
}

/* ---- Python glue ------------------------------------------------------------------- */

static void free_model(PyObject *capsule) {
    Model *M = (Model *)PyCapsule_GetPointer(capsule, "routing._descent.Model");
    if (!M) return;
    free(M->transit); free(M->km);
    free(M->vclass); free(M->vkm); free(M->vstart); free(M->vend); free(M->vprofile);
    free(M->vopen); free(M->vclose); free(M->vcap);
    free(M->wopen); free(M->wclose); free(M->value);
    free(M->load); free(M->group); free(M->nb); free(M->rnb_start); free(M->rnb); free(M->is_place);
    free(M->gcap); free(M->gstart); free(M->gnodes); free(M->commune); free(M->rank); free(M->cstart); free(M->cnodes); free(M->vday); free(M->drive); free(M->service); free(M->vmaxdrive);
    free(M->blo); free(M->bhi); free(M->bdur); free(M->needs_seq);
    free(M->split_at); free(M->split_n); free(M->split);
    free(M);
}

static int read_i64(PyObject *seq, Py_ssize_t expect, i64 **out, const char *name) {
    PyObject *fast = PySequence_Fast(seq, name);
    if (!fast) return -1;
    Py_ssize_t k = PySequence_Fast_GET_SIZE(fast);
    if (k != expect) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd values, got %zd", name, expect, k);
        Py_DECREF(fast);
        return -1;
    }
    *out = (i64 *)malloc(sizeof(i64) * (k ? k : 1));
    PyObject **items = PySequence_Fast_ITEMS(fast);
    for (Py_ssize_t i = 0; i < k; i++) {
        (*out)[i] = PyLong_AsLongLong(items[i]);
        if ((*out)[i] == -1 && PyErr_Occurred()) {
            Py_DECREF(fast);
            return -1;
        }
    }
    Py_DECREF(fast);
    return 0;
}

static int read_int(PyObject *seq, Py_ssize_t expect, int **out, const char *name) {
    i64 *tmp;
    if (read_i64(seq, expect, &tmp, name) < 0) return -1;
    *out = (int *)malloc(sizeof(int) * (expect ? expect : 1));
    for (Py_ssize_t i = 0; i < expect; i++) (*out)[i] = (int)tmp[i];
    free(tmp);
    return 0;
}

static PyObject *py_build(PyObject *self, PyObject *args) {
    int n, m, nclass, nkm, nnb;
    PyObject *transit, *km, *vclass, *vkm, *vstart, *vend, *vprofile, *vopen, *vclose, *vcap, *wopen, *wclose, *value,
        *load, *group, *is_place, *gcap, *vday, *drive, *service, *vmaxdrive, *blo, *bhi, *bdur, *split_at, *split_n,
        *split, *commune, *rank;
    if (!PyArg_ParseTuple(args, "iiiiiOOOOOOOOOOOOOOOOOOOOOOOOOOOOO", &n, &m, &nclass, &nkm, &nnb, &transit, &km, &vclass,
                          &vkm, &vstart, &vend, &vprofile, &vopen, &vclose, &vcap, &wopen, &wclose, &value, &load,
                          &group, &is_place, &gcap, &vday, &drive, &service, &vmaxdrive, &blo, &bhi, &bdur, &split_at,
                          &split_n, &split, &commune, &rank))
        return NULL;
    Model *M = (Model *)calloc(1, sizeof(Model));
    M->n = n; M->m = m; M->nclass = nclass; M->nkm = nkm;
    Py_ssize_t nn = (Py_ssize_t)n * n;
    if (read_i64(transit, nclass * nn, &M->transit, "transit") < 0 || read_i64(km, nkm * nn, &M->km, "km") < 0 ||
        read_int(vclass, m, &M->vclass, "vclass") < 0 || read_int(vkm, m, &M->vkm, "vkm") < 0 ||
        read_int(vstart, m, &M->vstart, "vstart") < 0 || read_int(vend, m, &M->vend, "vend") < 0 ||
        read_int(vprofile, m, &M->vprofile, "vprofile") < 0 || read_i64(vopen, m, &M->vopen, "vopen") < 0 ||
        read_i64(vclose, m, &M->vclose, "vclose") < 0 || read_i64(vcap, m, &M->vcap, "vcap") < 0 ||
        read_i64(wopen, (Py_ssize_t)m * n, &M->wopen, "wopen") < 0 ||
        read_i64(wclose, (Py_ssize_t)m * n, &M->wclose, "wclose") < 0 ||
        read_i64(value, (Py_ssize_t)m * n, &M->value, "value") < 0 || read_i64(load, n, &M->load, "load") < 0 ||
        read_int(group, n, &M->group, "group") < 0 || read_int(is_place, n, &M->is_place, "is_place") < 0 ||
        read_int(commune, n, &M->commune, "commune") < 0 || read_int(rank, n, &M->rank, "rank") < 0 ||
        read_int(vday, m, &M->vday, "vday") < 0 || read_i64(service, n, &M->service, "service") < 0 ||
        read_i64(vmaxdrive, m, &M->vmaxdrive, "vmaxdrive") < 0 || read_i64(blo, m, &M->blo, "blo") < 0 ||
        read_i64(bhi, m, &M->bhi, "bhi") < 0 || read_i64(bdur, m, &M->bdur, "bdur") < 0 ||
        read_i64(split_at, (Py_ssize_t)m * n, &M->split_at, "split_at") < 0 ||
        read_i64(split_n, (Py_ssize_t)m * n, &M->split_n, "split_n") < 0 ||
        read_i64(split, PySequence_Size(split), &M->split, "split") < 0 ||
        read_i64(drive, PySequence_Size(drive) ? nclass * nn : 0, &M->drive, "drive") < 0) {
        PyObject *tmp = PyCapsule_New(M, "routing._descent.Model", free_model);
        Py_XDECREF(tmp);
        return NULL;
    }
    M->ngroups = 0;
    for (int i = 0; i < n; i++)
        if (M->group[i] + 1 > M->ngroups) M->ngroups = M->group[i] + 1;
    if (read_int(gcap, M->ngroups, &M->gcap, "gcap") < 0) {
        PyObject *tmp = PyCapsule_New(M, "routing._descent.Model", free_model);
        Py_XDECREF(tmp);
        return NULL;
    }
    M->gstart = (int *)calloc(M->ngroups + 2, sizeof(int));
    M->gnodes = (int *)malloc(sizeof(int) * (n ? n : 1));
    for (int i = 0; i < n; i++)
        if (M->group[i] >= 0) M->gstart[M->group[i] + 2]++;
    for (int g = 0; g < M->ngroups; g++) M->gstart[g + 2] += M->gstart[g + 1];
    for (int i = 0; i < n; i++)
        if (M->group[i] >= 0) M->gnodes[M->gstart[M->group[i] + 1]++] = i;
    M->ncommunes = 0;
    for (int i = 0; i < n; i++)
        if (M->commune[i] + 1 > M->ncommunes) M->ncommunes = M->commune[i] + 1;
    M->cstart = (int *)calloc(M->ncommunes + 2, sizeof(int));
    M->cnodes = (int *)malloc(sizeof(int) * (n ? n : 1));
    for (int i = 0; i < n; i++)
        if (M->commune[i] >= 0) M->cstart[M->commune[i] + 2]++;
    for (int c = 0; c < M->ncommunes; c++) M->cstart[c + 2] += M->cstart[c + 1];
    for (int i = 0; i < n; i++)
        if (M->commune[i] >= 0) M->cnodes[M->cstart[M->commune[i] + 1]++] = i;
    M->multi = 0;
    for (int c = 0; c < M->ncommunes; c++) M->multi |= M->cstart[c + 1] - M->cstart[c] > 1;
    M->needs_seq = (int *)malloc(sizeof(int) * (m ? m : 1));
    int has_drive = PySequence_Size(drive) > 0;
    for (int v = 0; v < m; v++) {
        int split_here = 0;
        for (int i = 0; i < n; i++) split_here |= M->split_at[(i64)v * n + i] >= 0;
        M->needs_seq[v] = M->bdur[v] > 0 || M->vmaxdrive[v] >= 0 || split_here;
        if ((M->bdur[v] > 0 || M->vmaxdrive[v] >= 0) && !has_drive) {
            PyErr_SetString(PyExc_ValueError, "a break or a driving limit needs the drive matrices");
            PyObject *tmp = PyCapsule_New(M, "routing._descent.Model", free_model);
            Py_XDECREF(tmp);
            return NULL;
        }
        if (M->vday[v] < 0 || M->vday[v] > 6) {
            PyErr_SetString(PyExc_ValueError, "vehicle day must be 0..6");
            PyObject *tmp = PyCapsule_New(M, "routing._descent.Model", free_model);
            Py_XDECREF(tmp);
            return NULL;
        }
    }
    /* granular neighbourhoods: the nnb customers nearest in (symmetrised) class-0 time */
    int ncust = 0;
    for (int i = 0; i < n; i++) ncust += !M->is_place[i];
    if (nnb > ncust - 1) nnb = ncust - 1 > 0 ? ncust - 1 : 0;
    if (nnb > 64) nnb = 64; /* Sol.smask */
    M->nnb = nnb > 0 ? nnb : 1;
    M->nb = (int *)malloc(sizeof(int) * (size_t)n * M->nnb);
    for (i64 k = 0; k < (i64)n * M->nnb; k++) M->nb[k] = -1;
    /* Proximity as PyVRP's granular neighbourhoods: travel plus 0.2 x the wait and 1 x the
     * lateness that going i -> j straight would cause (windows: hull over vehicles), the
     * smaller of both directions; class-0 times. */
    i64 *e = (i64 *)malloc(sizeof(i64) * n), *l = (i64 *)malloc(sizeof(i64) * n);
    for (int i = 0; i < n; i++) {
        e[i] = INT64_MAX;
        l[i] = INT64_MIN;
        for (int v = 0; v < m; v++) {
            if (!allowed(M, v, i)) continue;
            if (M->wopen[(i64)v * n + i] < e[i]) e[i] = M->wopen[(i64)v * n + i];
            if (M->wclose[(i64)v * n + i] > l[i]) l[i] = M->wclose[(i64)v * n + i];
        }
        if (e[i] > l[i]) e[i] = l[i] = 0;
    }
    i64 *best = (i64 *)malloc(sizeof(i64) * M->nnb);
    for (int i = 0; i < n && nnb > 0; i++) {
        if (M->is_place[i]) continue;
        int *row = M->nb + (i64)i * M->nnb;
        int filled = 0;
        for (int j = 0; j < n; j++) {
            if (j == i || M->is_place[j]) continue;
            /* a commune's later-visit copies sit where its first ones do: they would crowd
             * other stops' lists (a bourg offers up to 4 x its sites) */
            if (M->rank[j] > 0 && M->commune[j] != M->commune[i]) continue;
            i64 d = INT64_MAX;
            for (int dir = 0; dir < 2; dir++) {
                int a = dir ? j : i, b = dir ? i : j;
                i64 t = M->transit[(i64)a * n + b];
                i64 wait = e[b] - t - l[a], late = e[a] + t - l[b];
                i64 p = 5 * t + (wait > 0 ? wait : 0) + 5 * (late > 0 ? late : 0);
                if (p < d) d = p;
            }
            /* A commune's other nodes come first: its other sites and its n-th visits, between
             * which replace and swap moves choose (service times would push them out). */
            if (M->commune[i] >= 0 && M->commune[i] == M->commune[j]) d = -1;
            if (filled == M->nnb && d >= best[filled - 1]) continue;
            int p = filled < M->nnb ? filled++ : M->nnb - 1;
            while (p > 0 && best[p - 1] > d) {
                best[p] = best[p - 1];
                row[p] = row[p - 1];
                p--;
            }
            best[p] = d;
            row[p] = j;
        }
    }
    free(best);
    free(e);
    free(l);
    M->rnb_start = (int *)calloc((size_t)n + 1, sizeof(int));
    M->rnb = (int *)malloc(sizeof(int) * ((size_t)n * M->nnb + 1));
    for (i64 k = 0; k < (i64)n * M->nnb; k++)
        if (M->nb[k] >= 0) M->rnb_start[M->nb[k] + 1]++;
    for (int w = 0; w < n; w++) M->rnb_start[w + 1] += M->rnb_start[w];
    int *fill = (int *)malloc(sizeof(int) * ((size_t)n + 1));
    memcpy(fill, M->rnb_start, sizeof(int) * ((size_t)n + 1));
    for (int u = 0; u < n; u++)
        for (int t = 0; t < M->nnb; t++) {
            int w = M->nb[(i64)u * M->nnb + t];
            if (w >= 0) M->rnb[fill[w]++] = u * 64 + t;
        }
    free(fill);
    return PyCapsule_New(M, "routing._descent.Model", free_model);
}

static void free_sol(Sol *S) {
    for (int v = 0; v < S->M->m; v++) {
        free(S->route[v]); free(S->pre[v]); free(S->suf[v]); free(S->lpre[v]); free(S->kf[v]); free(S->kb[v]);
    }
    free(S->route); free(S->pre); free(S->suf); free(S->lpre); free(S->kf); free(S->kb);
    free(S->len); free(S->where_r); free(S->where_p); free(S->gcount); free(S->cday); free(S->cveh); free(S->seq);
    free(S->rmod); free(S->gmod); free(S->cmod); free(S->tested); free(S->smask);
}

/* Route v (empty) becomes the nodes of Python sequence r; 0, or -1 with a Python error. */
static int put_route(Sol *S, int v, PyObject *r) {
    const Model *M = S->M;
    i64 *nodes;
    Py_ssize_t k = PySequence_Size(r);
    if (k < 0 || read_i64(r, k, &nodes, "route") < 0) return -1;
    S->route[v][0] = M->vstart[v];
    for (Py_ssize_t p = 0; p < k; p++) {
        int u = (int)nodes[p];
        if (u < 0 || u >= M->n || M->is_place[u] || S->where_r[u] >= 0) {
            PyErr_Format(PyExc_ValueError, "route %d: node %d is not a free customer", v, u);
            free(nodes); /* the caller frees S */
            return -1;
        }
        S->route[v][p + 1] = u;
        S->where_r[u] = v;
        mark_served(S, u, 1);
        if (M->group[u] >= 0) S->gcount[M->group[u]]++;
        if (M->commune[u] >= 0) S->cday[M->commune[u] * 7 + M->vday[v]]++;
    }
    S->route[v][k + 1] = M->vend[v];
    S->len[v] = (int)k;
    free(nodes);
    refresh(S, v);
    return 0;
}

static int load_sol(Sol *S, Model *M, PyObject *routes) {
    int n = M->n, m = M->m;
    S->M = M;
    S->route = (int **)calloc(m, sizeof(int *));
    S->pre = (Seg **)calloc(m, sizeof(Seg *));
    S->suf = (Seg **)calloc(m, sizeof(Seg *));
    S->lpre = (i64 **)calloc(m, sizeof(i64 *));
    S->kf = (i64 **)calloc(m, sizeof(i64 *));
    S->kb = (i64 **)calloc(m, sizeof(i64 *));
    S->len = (int *)calloc(m, sizeof(int));
    S->where_r = (int *)malloc(sizeof(int) * n);
    S->where_p = (int *)calloc(n, sizeof(int));
    S->gcount = (int *)calloc(M->ngroups + 1, sizeof(int));
    S->cday = (int *)calloc((size_t)(M->ncommunes + 1) * 7, sizeof(int));
    S->cveh = (int *)calloc((size_t)(M->ncommunes + 1) * 7, sizeof(int));
    S->cmod = (int *)calloc(M->ncommunes + 1, sizeof(int));
    S->seq = (int *)malloc(sizeof(int) * (n + 4));
    S->rmod = (int *)calloc(m + 1, sizeof(int));
    S->gmod = (int *)calloc(M->ngroups + 1, sizeof(int));
    S->tested = (int *)calloc(n, sizeof(int));
    S->smask = (uint64_t *)calloc(n, sizeof(uint64_t));
    for (int i = 0; i < n; i++) S->where_r[i] = -1;
    for (int v = 0; v < m; v++) {
        S->route[v] = (int *)malloc(sizeof(int) * (n + 2));
        S->pre[v] = (Seg *)malloc(sizeof(Seg) * (n + 2));
        S->suf[v] = (Seg *)malloc(sizeof(Seg) * (n + 2));
        S->lpre[v] = (i64 *)malloc(sizeof(i64) * (n + 2));
        S->kf[v] = (i64 *)malloc(sizeof(i64) * (n + 2));
        S->kb[v] = (i64 *)malloc(sizeof(i64) * (n + 2));
    }
    PyObject *fast = PySequence_Fast(routes, "routes");
    if (!fast) return -1;
    if (PySequence_Fast_GET_SIZE(fast) != m) {
        PyErr_Format(PyExc_ValueError, "expected %d routes", m);
        Py_DECREF(fast);
        return -1;
    }
    for (int v = 0; v < m; v++)
        if (put_route(S, v, PySequence_Fast_GET_ITEM(fast, v)) < 0) {
            Py_DECREF(fast);
            return -1;
        }
    Py_DECREF(fast);
    return 0;
}

/* Empty route v (its stops become unserved). */
static void clear_route(Sol *S, int v) {
    const Model *M = S->M;
    for (int p = 1; p <= S->len[v]; p++) {
        int u = S->route[v][p];
        S->where_r[u] = -1;
        mark_served(S, u, 0);
        if (M->group[u] >= 0) S->gcount[M->group[u]]--;
        if (M->commune[u] >= 0) S->cday[M->commune[u] * 7 + M->vday[v]]--;
    }
    S->route[v][1] = M->vend[v];
    S->len[v] = 0;
    refresh(S, v);
}

/* Kilometre cost minus value served of route v alone; *feasible cleared when it breaks a
 * window, the capacity, a side constraint or a stop's vehicle (groups are across routes). */
static i64 route_objective(const Sol *S, int v, int *feasible) {
    const Model *M = S->M;
    int *r = S->route[v];
    i64 total = 0;
    if (S->len[v] == 0) return 0; /* an empty route costs nothing (OR-Tools: start -> end unused) */
    for (int p = 0; p <= S->len[v]; p++) total += KM(M, v, r[p], r[p + 1]);
    for (int p = 1; p <= S->len[v]; p++) {
        total -= VAL(M, v, r[p]);
        if (!allowed(M, v, r[p])) *feasible = 0;
    }
    if (S->suf[v][0].tw) *feasible = 0;
    if (M->vcap[v] >= 0 && route_load(S, v) > M->vcap[v]) *feasible = 0;
    if (M->needs_seq[v] && !seq_ok(S, v, r, S->len[v] + 2)) *feasible = 0;
    return total;
}

static i64 sol_objective(const Sol *S, int *feasible) {
    const Model *M = S->M;
    i64 total = 0;
    *feasible = 1;
    for (int v = 0; v < M->m; v++) total += route_objective(S, v, feasible);
    for (int g = 0; g < M->ngroups; g++)
        if (S->gcount[g] > M->gcap[g]) *feasible = 0;
    if (M->ncommunes) { /* one route per commune and day */
        int *holder = (int *)malloc(sizeof(int) * (size_t)M->ncommunes * 7);
        for (int k = 0; k < M->ncommunes * 7; k++) holder[k] = -1;
        for (int v = 0; v < M->m; v++)
            for (int p = 1; p <= S->len[v]; p++) {
                int c = M->commune[S->route[v][p]];
                if (c < 0) continue;
                int k = c * 7 + M->vday[v];
                if (holder[k] >= 0 && holder[k] != v) *feasible = 0;
                holder[k] = v;
            }
        free(holder);
    }
    return total;
}

static PyObject *sol_routes(const Sol *S) {
    PyObject *out = PyList_New(S->M->m);
    for (int v = 0; v < S->M->m; v++) {
        PyObject *r = PyList_New(S->len[v]);
        for (int p = 1; p <= S->len[v]; p++) PyList_SET_ITEM(r, p - 1, PyLong_FromLong(S->route[v][p]));
        PyList_SET_ITEM(out, v, r);
    }
    return out;
}

/* The model of `capsule` and `routes` loaded into S; 0, or -1 with a Python error set. */
static int open_sol(Sol *S, PyObject *capsule, PyObject *routes) {
    Model *M = (Model *)PyCapsule_GetPointer(capsule, "routing._descent.Model");
    if (!M) return -1;
    memset(S, 0, sizeof(*S));
    if (load_sol(S, M, routes) < 0) {
        if (S->route) free_sol(S);
        return -1;
    }
    return 0;
}

/* The numbers in `seq`, each in [0, bound); their count in *k. 0, or -1 with a Python error. */
static int read_indices(PyObject *seq, int bound, i64 **out, Py_ssize_t *k, const char *name) {
    *k = PySequence_Size(seq);
    if (*k < 0 || read_i64(seq, *k, out, name) < 0) return -1;
    for (Py_ssize_t t = 0; t < *k; t++)
        if ((*out)[t] < 0 || (*out)[t] >= bound) {
            PyErr_Format(PyExc_ValueError, "%s: %lld is out of range", name, (long long)(*out)[t]);
            free(*out);
            return -1;
        }
    return 0;
}

/* After a ruin: only the routes `touched` (None: all) and the `removed` nodes (NULL: none)
 * changed since the plan was a local optimum. */
static int mark_changes(Sol *S, PyObject *touched, PyObject *removed) {
    const Model *M = S->M;
    int base = ++S->stamp, all = touched == Py_None;
    i64 *items;
    Py_ssize_t k;
    for (int v = 0; v < M->m; v++) S->rmod[v] = all ? base : 0;
    if (!all) {
        if (read_indices(touched, M->m, &items, &k, "touched") < 0) return -1;
        for (Py_ssize_t t = 0; t < k; t++) S->rmod[items[t]] = base;
        free(items);
    }
    if (removed == NULL) return 0;
    if (read_indices(removed, M->n, &items, &k, "removed") < 0) return -1;
    for (Py_ssize_t t = 0; t < k; t++) {
        S->tested[items[t]] = -1;
        touch_group(S, M->group[items[t]]);
        touch_commune(S, M->commune[items[t]]);
    }
    free(items);
    return 0;
}

static PyObject *py_descend(PyObject *self, PyObject *args) {
    PyObject *capsule, *routes, *touched = Py_None, *removed = NULL;
    unsigned long long seed;
    int max_passes, ratio = 0;
    i64 *items = NULL;
    Py_ssize_t k = 0;
    Sol S;
    if (!PyArg_ParseTuple(args, "OOKi|OOp", &capsule, &routes, &seed, &max_passes, &touched, &removed, &ratio))
        return NULL;
    if (open_sol(&S, capsule, routes) < 0) return NULL;
    if (mark_changes(&S, touched, removed) < 0 ||
        (ratio && removed != NULL && read_indices(removed, S.M->n, &items, &k, "removed") < 0)) {
        free_sol(&S);
        return NULL;
    }
    S.rng = seed * 0x9E3779B97F4A7C15ULL + 1;
    Py_BEGIN_ALLOW_THREADS
    if (items) ratio_insert(&S, items, k);
    descend(&S, max_passes);
    Py_END_ALLOW_THREADS
    free(items);
    int feasible;
    i64 obj = sol_objective(&S, &feasible);
    PyObject *r = sol_routes(&S);
    free_sol(&S);
    return Py_BuildValue("NLO", r, (long long)obj, feasible ? Py_True : Py_False);
}

static PyObject *py_evaluate(PyObject *self, PyObject *args) {
    PyObject *capsule, *routes;
    Sol S;
    if (!PyArg_ParseTuple(args, "OO", &capsule, &routes)) return NULL;
    if (open_sol(&S, capsule, routes) < 0) return NULL;
    int feasible;
    i64 obj = sol_objective(&S, &feasible);
    free_sol(&S);
    return Py_BuildValue("LO", (long long)obj, feasible ? Py_True : Py_False);
}

/* route_costs(model, vehicles, routes) -> [(objective, feasible)]: each route alone on its
 * vehicle (route recombination prices the routes of its pool with it). */
static PyObject *py_route_costs(PyObject *self, PyObject *args) {
    PyObject *capsule, *vehicles, *routes;
    if (!PyArg_ParseTuple(args, "OOO", &capsule, &vehicles, &routes)) return NULL;
    Model *M = (Model *)PyCapsule_GetPointer(capsule, "routing._descent.Model");
    if (!M) return NULL;
    Py_ssize_t k = PySequence_Size(routes), kv;
    i64 *vs;
    if (k < 0 || read_indices(vehicles, M->m, &vs, &kv, "vehicles") < 0) return NULL;
    if (kv != k) {
        free(vs);
        PyErr_SetString(PyExc_ValueError, "one vehicle per route");
        return NULL;
    }
    PyObject *plan = PyList_New(M->m), *out = PyList_New(k);
    for (int v = 0; v < M->m; v++) PyList_SET_ITEM(plan, v, PyList_New(0));
    Sol S;
    int opened = open_sol(&S, capsule, plan) == 0;
    if (!opened) Py_CLEAR(out);
    for (Py_ssize_t t = 0; t < k && out; t++) {
        int v = (int)vs[t], feasible = 1;
        PyObject *route = PySequence_GetItem(routes, t);
        if (!route || put_route(&S, v, route) < 0) {
            Py_XDECREF(route);
            Py_CLEAR(out);
            break;
        }
        Py_DECREF(route);
        i64 obj = route_objective(&S, v, &feasible);
        clear_route(&S, v);
        PyList_SET_ITEM(out, t, Py_BuildValue("LO", (long long)obj, feasible ? Py_True : Py_False));
    }
    if (opened) free_sol(&S);
    free(vs);
    Py_DECREF(plan);
    return out;
}

static PyMethodDef methods[] = {
    {"build", py_build, METH_VARARGS, "build(n, m, nclass, nkm, nnb, transit, km, ...) -> model capsule"},
    {"route_costs", py_route_costs, METH_VARARGS,
     "route_costs(model, vehicles, routes) -> [(objective, feasible)] of each route alone on its vehicle"},
    {"descend", py_descend, METH_VARARGS,
     "descend(model, routes, seed, max_passes[, touched, removed, ratio]) -> (routes, objective, feasible)"},
    {"evaluate", py_evaluate, METH_VARARGS, "evaluate(model, routes) -> (objective, feasible)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {PyModuleDef_HEAD_INIT, "routing._descent", NULL, -1, methods};

PyMODINIT_FUNC PyInit__descent(void) { return PyModule_Create(&moduledef); }
