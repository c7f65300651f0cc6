//! Scale-out: N replicas each make 1/N of every scenario's load, exactly.
//! Counts split so the totals hold (10 VUs over 3 pods: 4 + 3 + 3); rates
//! divide. The chart sets `SLOPROBER_SHARD_COUNT`; the index comes from
//! `SLOPROBER_SHARD_INDEX`, an Indexed Job's `JOB_COMPLETION_INDEX`, or the
//! StatefulSet ordinal at the end of `POD_NAME` / `HOSTNAME` (`sloprober-2`
//! is shard 2).

use crate::executor::Stage;
use crate::executor::{ExecutorPlan, ExecutorSpec};
use crate::model::env::EnvVars;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// The shard this process is, or None when the load is not split.
    pub fn from_env(env: &EnvVars) -> Result<Option<Shard>, String> {
        let Some(count) = env.get("SLOPROBER_SHARD_COUNT").filter(|v| !v.is_empty()) else { return Ok(None) };
        let count: u32 = count.parse().ok().filter(|c| *c >= 1).ok_or_else(|| {
            format!("SLOPROBER_SHARD_COUNT: \"{count}\" is not a whole number of replicas (1 or more)")
        })?;
        if count == 1 {
            return Ok(None);
        }
        let named = ["SLOPROBER_SHARD_INDEX", "JOB_COMPLETION_INDEX"]
            .into_iter()
            .find_map(|name| env.get(name).filter(|v| !v.is_empty()).map(|v| (name, v)));
        let index = match named {
            Some((name, index)) => {
                index.parse::<u32>().map_err(|_| format!("{name}: \"{index}\" is not a whole number"))?
            }
            None => {
                let name = env.get("POD_NAME").or_else(|| env.get("HOSTNAME")).cloned().unwrap_or_default();
                name.rsplit('-').next().and_then(|n| n.parse().ok()).ok_or_else(|| {
                    format!("SLOPROBER_SHARD_COUNT is set but the shard index is not: set SLOPROBER_SHARD_INDEX, or run in a StatefulSet whose POD_NAME ends in its ordinal (got \"{name}\")")
                })?
            }
        };
        if index >= count {
            return Err(format!("shard index {index} is not below SLOPROBER_SHARD_COUNT {count}"));
        }
        Ok(Some(Shard { index, count }))
    }

    /// This shard's part of a whole number; the parts of all shards add up to `total`.
    pub fn part(&self, total: u64) -> u64 {
        let (n, i) = (self.count as u64, self.index as u64);
        total / n + u64::from(i < total % n)
    }

    fn part_u32(&self, total: u32) -> u32 {
        self.part(total as u64) as u32
    }

    fn rate(&self, rate: f64) -> f64 {
        rate / self.count as f64
    }

    /// The executor for this shard's part of the load.
    pub fn apply(&self, plan: &ExecutorPlan) -> ExecutorPlan {
        let mut plan = plan.clone();
        let vus_stages = |stages: &mut Vec<Stage>| {
            for s in stages.iter_mut() {
                s.target = self.part(s.target as u64) as f64;
            }
        };
        // An arrival-rate shard keeps at least one VU so its share of the rate can run.
        let pool = |pre: &mut u32, max: &mut u32| {
            *pre = self.part_u32(*pre);
            *max = self.part_u32(*max).max(1);
        };
        match &mut plan.spec {
            ExecutorSpec::ConstantVus { vus, .. } | ExecutorSpec::PerVuIterations { vus, .. } => {
                *vus = self.part_u32(*vus)
            }
            ExecutorSpec::RampingVus { start_vus, stages, .. } => {
                *start_vus = self.part_u32(*start_vus);
                vus_stages(stages);
            }
            ExecutorSpec::ConstantArrivalRate { rate, pre_allocated_vus, max_vus, .. } => {
                *rate = self.rate(*rate);
                pool(pre_allocated_vus, max_vus);
            }
            ExecutorSpec::RampingArrivalRate { start_rate, stages, pre_allocated_vus, max_vus, .. } => {
                *start_rate = self.rate(*start_rate);
                for s in stages.iter_mut() {
                    s.target = self.rate(s.target);
                }
                pool(pre_allocated_vus, max_vus);
            }
            ExecutorSpec::SharedIterations { vus, iterations, .. } => {
                *iterations = self.part(*iterations);
                *vus = self.part_u32(*vus).max(u32::from(*iterations > 0));
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn env(pairs: &[(&str, &str)]) -> EnvVars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn parts_add_up_to_the_total() {
        let parts: Vec<u64> = (0..3).map(|index| Shard { index, count: 3 }.part(10)).collect();
        assert_eq!(parts, [4, 3, 3]);
        for total in 0..50 {
            let sum: u64 = (0..7).map(|index| Shard { index, count: 7 }.part(total)).sum();
            assert_eq!(sum, total);
        }
    }

    #[test]
    fn index_from_the_statefulset_ordinal() {
        let shard = Shard::from_env(&env(&[("SLOPROBER_SHARD_COUNT", "3"), ("POD_NAME", "sloprober-2")])).unwrap();
        assert_eq!(shard, Some(Shard { index: 2, count: 3 }));
        assert_eq!(Shard::from_env(&env(&[])).unwrap(), None);
        assert_eq!(Shard::from_env(&env(&[("SLOPROBER_SHARD_COUNT", "1"), ("HOSTNAME", "x")])).unwrap(), None);
        let explicit = env(&[("SLOPROBER_SHARD_COUNT", "4"), ("SLOPROBER_SHARD_INDEX", "1"), ("POD_NAME", "a-3")]);
        assert_eq!(Shard::from_env(&explicit).unwrap(), Some(Shard { index: 1, count: 4 }));
        let err = Shard::from_env(&env(&[("SLOPROBER_SHARD_COUNT", "3"), ("SLOPROBER_SHARD_INDEX", "3")])).unwrap_err();
        assert_eq!(err, "shard index 3 is not below SLOPROBER_SHARD_COUNT 3");
        assert!(Shard::from_env(&env(&[("SLOPROBER_SHARD_COUNT", "3"), ("HOSTNAME", "laptop")])).is_err());
        let job =
            env(&[("SLOPROBER_SHARD_COUNT", "3"), ("JOB_COMPLETION_INDEX", "2"), ("HOSTNAME", "sloprober-abcde")]);
        assert_eq!(Shard::from_env(&job).unwrap(), Some(Shard { index: 2, count: 3 }));
    }

    #[test]
    fn executors_split_exactly() {
        let plan = |spec| ExecutorPlan { spec, start_time: Duration::ZERO, graceful_stop: Duration::ZERO };
        let rate = plan(ExecutorSpec::ConstantArrivalRate {
            rate: 10.0,
            time_unit: Duration::from_secs(1),
            duration: Duration::from_secs(60),
            pre_allocated_vus: 5,
            max_vus: 5,
        });
        let rates: f64 = (0..3)
            .map(|index| match (Shard { index, count: 3 }).apply(&rate).spec {
                ExecutorSpec::ConstantArrivalRate { rate, .. } => rate,
                _ => unreachable!(),
            })
            .sum();
        assert!((rates - 10.0).abs() < 1e-9);
        let ramp = plan(ExecutorSpec::RampingVus {
            start_vus: 2,
            stages: vec![Stage { duration: Duration::from_secs(60), target: 10.0 }],
            graceful_ramp_down: Duration::ZERO,
        });
        let targets: Vec<f64> = (0..3)
            .map(|index| match (Shard { index, count: 3 }).apply(&ramp).spec {
                ExecutorSpec::RampingVus { stages, .. } => stages[0].target,
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(targets, [4.0, 3.0, 3.0]);
    }
}
