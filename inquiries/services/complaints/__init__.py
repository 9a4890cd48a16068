"""Complaint clusters: the incremental update per ingested complaint, the sweep, the lifecycle.

A *complaint* is an inquiry whose topic is a complaint topic; it is counted once, at its
opening time, however many messages follow. Two kinds of cluster:

- **burst**: one account, topic and SKU. After each complaint the SKU's count in the
  rolling window (default 7 days) is tested against its own previous 8 weeks
  (`complaints.clusters.burst_test`: Poisson, p < 0.01, at least 3 complaints). The first
  flagged test opens the cluster with every complaint in the window; later complaints
  about the same key join that same cluster until someone resolves it. A resolved
  cluster restarts the window: only complaints after its resolution can open the next one.
- **near_duplicate**: one account and topic, any SKU or none. A new complaint's text is
  fingerprinted once (`complaints.fingerprints`, MinHash) and screened against the stored
  fingerprints of the window's latest complaints of its topic; the few look-alikes are
  confirmed with `similar_to` (TF-IDF cosine, CSTRACKER_CLUSTER_TEXT_SIMILARITY_PERCENT).
  A match from another customer opens a cluster of the two, or adds the complaint to the
  cluster the match belongs to.

Each update costs a few indexed queries on the complaint's own key; nothing is ever
recomputed from all history. Concurrency: an active burst cluster is unique per key (a
partial unique constraint); the worker that loses the race to create it catches the
IntegrityError and joins the winner's row, locked with SELECT ... FOR UPDATE. Text
clustering takes a row lock on the account, because which cluster a text joins depends
on the others' texts, not on a key a constraint could hold.

Every transition writes a `ClusterEvent` in the same transaction and queues
`notify_cluster_events` after commit.

One module per seam: `config` (settings), `bursts` (burst clusters and the cluster rows'
refresh), `similar_text` (near-duplicate clusters), `updates` (the per-complaint update),
`sweep` (the resumable sweep) and `lifecycle` (acknowledge, act, resolve). The recording
follow-up, the pages, the API and the tasks call the public functions, exposed here.
"""

from inquiries.services.complaints.bursts import BurstStats, burst_stats, clear_caches, history_start
from inquiries.services.complaints.config import Config
from inquiries.services.complaints.lifecycle import acknowledge, record_action, resolve
from inquiries.services.complaints.similar_text import complaint_text
from inquiries.services.complaints.sweep import (
    SWEEP_STALLED_AFTER,
    ClusterSweepResult,
    fingerprint_window,
    sweep_clusters,
)
from inquiries.services.complaints.updates import update_clusters_for_inquiry, update_clusters_for_message

__all__ = [
    "SWEEP_STALLED_AFTER",
    "BurstStats",
    "ClusterSweepResult",
    "Config",
    "acknowledge",
    "burst_stats",
    "clear_caches",
    "complaint_text",
    "fingerprint_window",
    "history_start",
    "record_action",
    "resolve",
    "sweep_clusters",
    "update_clusters_for_inquiry",
    "update_clusters_for_message",
]
