/* router_report.h: drrl-router's comparison on an evaluation split (eval/router_cascade.h's
 * accounting): in each currency (attention FLOPs, model FLOPs, measured latency; each the
 * ratio to full), at the mean cost C_r of each static rank r of the list but the first:
 *   static    the lower hull of the uniform modes (full included)
 *   router    the hull of the router cascade's points over the tau grid (tau = 10^(-0.05 j),
 *             j = 0..240, plus +inf: never escalate, and 0: always full)
 *   rule      the hull of the single-signal threshold cascade's points (every threshold,
 *             every target mode; the sign of the signal's Spearman with the KL at the
 *             cheapest rank on the training rows)
 *   oracle    the cascade oracle (the cheap pass paid, then hindsight) and the plain per-input
 *             oracle
 * KL of each, static / router and static / rule, the share of the oracle's gain
 * (static - method) / (static - oracle) for both oracles (NaN when the oracle gains nothing),
 * the router's and the rule's accuracy and agreement with full at that cost (mixed as the
 * hull mixes), and static rank r's own accuracy and agreement.
 * Files in dir: compare.csv, compare.md, frontier.csv (every point of every method and
 * currency: method, currency, param, mode, cost, kl, acc, agree, escalated, hull vertex),
 * cv.csv (rank, lambda, CV mean squared error of log KL, chosen). */
#ifndef DRRL_EVAL_ROUTER_REPORT_H
#define DRRL_EVAL_ROUTER_REPORT_H

#include <stdio.h>

#include "eval/router_cascade.h"
#include "eval/router_fit.h"

typedef struct {
    const char *cmdline, *train, *dev; /* for the Markdown heading */
    const char *rule_signal;           /* the rule's signal column */
} RouterReportInfo;

/* router_report: dev's comparison with router rt (fitted on train) into dir (existing); the
   Markdown also to md (may be NULL). */
Status router_report(const Router *rt, const RouterData *train, const RouterData *dev,
                     const RouterReportInfo *ri, const char *dir, FILE *md, Err *e);

#endif
