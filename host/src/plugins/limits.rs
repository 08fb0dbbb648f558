//! A plugin's limits: for each, the tighter of the manifest's request and
//! the operator's grant, where either left unset means the default. So a
//! manifest cannot raise a limit above the default unless the operator's
//! grant raises it too, and the operator can always lower it.

use std::time::Duration;

use crate::caps::grants::{DEFAULT_MAX_PROCESSES, ManifestLimits};
use crate::runtime::Limits;

const DEFAULT_MEMORY_MIB: u64 = 64;
const DEFAULT_CPU_MS: u64 = 10_000;
/// As the kubelet's whole-request deadline: one call may take all of it.
const DEFAULT_WALL_MS: u64 = 30_000;
const DEFAULT_OUTPUT_MIB: u64 = 1024;
const DEFAULT_MAX_INSTANCES: u32 = 16;

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EffectiveLimits {
    pub memory_mib: u64,
    pub cpu_ms: u64,
    pub max_processes: u32,
    pub wall_ms: u64,
    pub output_mib: u64,
    pub max_instances: u32,
}

fn tightest<T: Ord + Copy>(request: Option<T>, grant: Option<T>, default: T) -> T {
    request.unwrap_or(default).min(grant.unwrap_or(default))
}

impl EffectiveLimits {
    pub fn new(manifest: &ManifestLimits, grant: Option<ManifestLimits>) -> Self {
        let g = grant.unwrap_or_default();
        let m = manifest;
        EffectiveLimits {
            memory_mib: tightest(m.memory_mib, g.memory_mib, DEFAULT_MEMORY_MIB).max(1),
            cpu_ms: tightest(m.cpu_ms, g.cpu_ms, DEFAULT_CPU_MS).max(1),
            max_processes: tightest(m.max_processes, g.max_processes, DEFAULT_MAX_PROCESSES),
            wall_ms: tightest(m.wall_ms, g.wall_ms, DEFAULT_WALL_MS).max(1),
            output_mib: tightest(m.output_mib, g.output_mib, DEFAULT_OUTPUT_MIB),
            max_instances: tightest(m.max_instances, g.max_instances, DEFAULT_MAX_INSTANCES).max(1),
        }
    }

    /// The same, as a manifest's `[limits]` with every value set.
    pub fn as_manifest(&self) -> ManifestLimits {
        ManifestLimits {
            memory_mib: Some(self.memory_mib),
            cpu_ms: Some(self.cpu_ms),
            max_processes: Some(self.max_processes),
            wall_ms: Some(self.wall_ms),
            output_mib: Some(self.output_mib),
            max_instances: Some(self.max_instances),
        }
    }

    pub fn runtime(&self) -> Limits {
        Limits {
            memory_bytes: usize::try_from(self.memory_mib << 20).unwrap_or(usize::MAX),
            cpu: Duration::from_millis(self.cpu_ms),
            wall: Duration::from_millis(self.wall_ms),
            output_bytes: self.output_mib.saturating_mul(1 << 20),
            max_instances: self.max_instances,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tightest_wins_and_unset_means_the_default() {
        let manifest = ManifestLimits {
            memory_mib: Some(256),
            cpu_ms: Some(500),
            ..Default::default()
        };
        let grant = ManifestLimits {
            memory_mib: Some(32),
            wall_ms: Some(2000),
            ..Default::default()
        };
        let l = EffectiveLimits::new(&manifest, Some(grant));
        assert_eq!((l.memory_mib, l.cpu_ms, l.wall_ms), (32, 500, 2000));
        // A manifest alone cannot go above the default.
        let l = EffectiveLimits::new(&manifest, None);
        assert_eq!(l.memory_mib, DEFAULT_MEMORY_MIB);
        assert_eq!(l.max_instances, DEFAULT_MAX_INSTANCES);
    }
}
