//! The HPA's arithmetic, as Kubernetes' replica calculator and stabilization do it, on plain numbers: the
//! replicas a CPU utilization target asks for, given each pod's usage and request, then held steady by
//! the behavior's stabilization windows.

use std::time::Duration;

use time::OffsetDateTime;

/// Ratios this close to 1 change nothing (kube-controller-manager's --horizontal-pod-autoscaler-tolerance).
pub const TOLERANCE: f64 = 0.1;

/// One pod as the calculation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PodSample {
    /// Millicores used; None when the pod has no metrics yet.
    pub usage_millis: Option<f64>,
    pub request_millis: f64,
    pub ready: bool,
}

/// What the calculation found: the replicas it recommends and the utilization it measured (percent of
/// request, over the ready pods with metrics), with its average usage in millicores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recommendation {
    pub replicas: i64,
    pub utilization: i64,
    pub average_millis: f64,
}

fn ratio(pods: &[(f64, f64)], target: f64) -> f64 {
    let (usage, requests): (f64, f64) = pods.iter().fold((0.0, 0.0), |(u, r), (pu, pr)| (u + pu, r + pr));
    if requests <= 0.0 {
        return 1.0;
    }
    usage * 100.0 / requests / target
}

/// Replicas for `target` percent of the CPU request, from `current` replicas and their pods. Ready pods
/// with metrics decide the direction; pods without metrics then count as using their whole request when
/// scaling down and nothing when scaling up, and unready pods as nothing when scaling up, and the
/// direction must survive that, as in Kubernetes. None when no ready pod has metrics.
pub fn recommend(current: i64, pods: &[PodSample], target: i64) -> Option<Recommendation> {
    let target = target.max(1) as f64;
    let measured: Vec<(f64, f64)> =
        pods.iter().filter(|p| p.ready).filter_map(|p| Some((p.usage_millis?, p.request_millis))).collect();
    if measured.is_empty() {
        return None;
    }
    let usage_ratio = ratio(&measured, target);
    let utilization = (usage_ratio * target).round() as i64;
    let average_millis = measured.iter().map(|(u, _)| u).sum::<f64>() / measured.len() as f64;
    let found = |replicas| Recommendation { replicas, utilization, average_millis };
    let missing: Vec<&PodSample> = pods.iter().filter(|p| p.usage_millis.is_none()).collect();
    let unready: Vec<&PodSample> = pods.iter().filter(|p| !p.ready && p.usage_millis.is_some()).collect();
    if missing.is_empty() && unready.is_empty() {
        if (usage_ratio - 1.0).abs() <= TOLERANCE {
            return Some(found(current));
        }
        return Some(found((usage_ratio * measured.len() as f64).ceil() as i64));
    }
    let up = usage_ratio > 1.0;
    let mut all = measured.clone();
    for pod in &missing {
        all.push((if up { 0.0 } else { pod.request_millis }, pod.request_millis));
    }
    if up {
        all.extend(unready.iter().map(|p| (0.0, p.request_millis)));
    }
    let new_ratio = ratio(&all, target);
    if (new_ratio - 1.0).abs() <= TOLERANCE || (up && new_ratio < 1.0) || (!up && new_ratio > 1.0) {
        return Some(found(current));
    }
    let replicas = (new_ratio * all.len() as f64).ceil() as i64;
    // A direction that the added pods would reverse changes nothing.
    if (up && replicas < current) || (!up && replicas > current) {
        return Some(found(current));
    }
    Some(found(replicas))
}

/// Recommendations an HPA made, newest last, for its stabilization windows.
#[derive(Debug, Default, Clone)]
pub struct History {
    recommendations: Vec<(OffsetDateTime, i64)>,
}

impl History {
    /// Record `desired` at `now` and return it held by the windows: no higher than the lowest
    /// recommendation within `up_window`, no lower than the highest within `down_window` (each including
    /// this one), starting from `current`.
    pub fn stabilize(
        &mut self,
        now: OffsetDateTime,
        current: i64,
        desired: i64,
        up_window: Duration,
        down_window: Duration,
    ) -> i64 {
        let longest = up_window.max(down_window);
        self.recommendations.retain(|(at, _)| (now - *at).unsigned_abs() <= longest);
        self.recommendations.push((now, desired));
        let within = |window: Duration| {
            self.recommendations.iter().filter(move |(at, _)| (now - *at).unsigned_abs() <= window).map(|(_, r)| *r)
        };
        let up = within(up_window).min().unwrap_or(desired);
        let down = within(down_window).max().unwrap_or(desired);
        let mut stabilized = current;
        if stabilized < up {
            stabilized = up;
        }
        if stabilized > down {
            stabilized = down;
        }
        stabilized
    }
}

/// The most a scale-up may reach at once under Kubernetes' default scale-up policies (double, or four
/// more, per period, whichever is more).
pub fn scale_up_limit(current: i64) -> i64 {
    (current * 2).max(current + 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(usage: f64) -> PodSample {
        PodSample { usage_millis: Some(usage), request_millis: 100.0, ready: true }
    }

    #[test]
    fn replicas_follow_utilization_outside_the_tolerance() {
        // One pod at 200% of its request against a 50% target: four.
        assert_eq!(
            recommend(1, &[ready(200.0)], 50).unwrap(),
            Recommendation { replicas: 4, utilization: 200, average_millis: 200.0 }
        );
        // Within 10% of the target: unchanged.
        assert_eq!(recommend(3, &[ready(52.0), ready(54.0), ready(50.0)], 50).unwrap().replicas, 3);
        // Idle: down to one.
        assert_eq!(recommend(3, &[ready(1.0), ready(0.0), ready(2.0)], 50).unwrap().replicas, 1);
        assert!(recommend(1, &[PodSample { usage_millis: None, request_millis: 100.0, ready: true }], 50).is_none());
    }

    #[test]
    fn pods_without_metrics_or_not_ready_temper_the_change() {
        let missing = PodSample { usage_millis: None, request_millis: 100.0, ready: false };
        // Up: a pod without metrics counts as idle: (200 + 0) / 200 / 0.5 = 2 → 4 pods.
        assert_eq!(recommend(2, &[ready(200.0), missing], 50).unwrap().replicas, 4);
        // Down: it counts as at its request: (10 + 100) / 200 / 0.5 = 1.1 → the direction reversed, unchanged.
        assert_eq!(recommend(2, &[ready(10.0), missing], 50).unwrap().replicas, 2);
        // An unready pod with metrics counts as idle when scaling up.
        let unready = PodSample { usage_millis: Some(500.0), request_millis: 100.0, ready: false };
        assert_eq!(recommend(2, &[ready(100.0), unready], 50).unwrap().replicas, 2);
    }

    #[test]
    fn scale_down_waits_for_the_window_and_scale_up_does_not() {
        let start = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let at = |s: i64| start + time::Duration::seconds(s);
        let (up, down) = (Duration::ZERO, Duration::from_secs(60));
        let mut history = History::default();
        assert_eq!(history.stabilize(at(0), 1, 3, up, down), 3);
        // Load gone: still 3 while a recommendation of 3 is within the minute.
        assert_eq!(history.stabilize(at(15), 3, 1, up, down), 3);
        assert_eq!(history.stabilize(at(45), 3, 1, up, down), 3);
        assert_eq!(history.stabilize(at(75), 3, 1, up, down), 1);
        assert_eq!((scale_up_limit(1), scale_up_limit(10)), (5, 20));
    }
}
