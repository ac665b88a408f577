import CoreMetrics
import SwallowCore

/// The watch's finding as a metric (swift-metrics; whichever backend the process bootstrapped):
/// `swallow_confirmed_position_stalled` (1 while stalled, else 0), with the dimension `slot`. How long
/// the position has stood still is the monitor's `swallow_last_confirmed_age_seconds`: one gauge per fact.
struct ConfirmedPositionGauges {
    static let stalledLabel = "swallow_confirmed_position_stalled"

    let stalled: Gauge

    init(slot: String, factory: MetricsFactory) {
        stalled = Gauge(label: Self.stalledLabel, dimensions: [("slot", slot)], factory: factory)
    }

    func record(_ observation: ConfirmedPositionWatch.Observation) {
        stalled.record(observation.isStalled ? 1 : 0)
    }
}
