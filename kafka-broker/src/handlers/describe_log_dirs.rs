//! DescribeLogDirs (key 35), v1-v5.
//!
//! The single data directory with each requested partition's size (null topics = all).
//! v3+: top-level error code; v4+: total/usable bytes (-1: not measured).

use std::sync::Arc;

use kafka_protocol::messages::describe_log_dirs_response::{
    DescribeLogDirsPartition, DescribeLogDirsResult, DescribeLogDirsTopic,
};
use kafka_protocol::messages::{DescribeLogDirsRequest, DescribeLogDirsResponse};

use crate::state::{Shared, blocking};

pub(crate) async fn handle(
    s: &Arc<Shared>,
    _version: i16,
    req: DescribeLogDirsRequest,
) -> DescribeLogDirsResponse {
    let catalog = s.metadata.snapshot();
    let topics = blocking(move || {
        let wanted: Vec<(String, Option<Vec<i32>>)> = match req.topics {
            None => catalog.by_name.keys().map(|n| (n.clone(), None)).collect(),
            Some(ts) => ts
                .into_iter()
                .map(|t| (t.topic, Some(t.partitions)))
                .collect(),
        };
        wanted
            .into_iter()
            .filter_map(|(name, parts)| {
                let t = catalog.by_name.get(&name)?;
                let partitions: Vec<DescribeLogDirsPartition> = t
                    .partitions
                    .iter()
                    .filter(|p| parts.as_ref().is_none_or(|ps| ps.contains(&p.index)))
                    .filter_map(|p| {
                        let size = p.with_log(|l| l.size_bytes())?;
                        Some(DescribeLogDirsPartition {
                            partition_index: p.index,
                            partition_size: i64::try_from(size).unwrap_or(i64::MAX),
                            offset_lag: 0,
                            is_future_key: false,
                            ..Default::default()
                        })
                    })
                    .collect();
                (!partitions.is_empty()).then(|| DescribeLogDirsTopic {
                    name,
                    partitions,
                    ..Default::default()
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let dir = std::fs::canonicalize(&s.data_dir).unwrap_or_else(|_| s.data_dir.clone());
    DescribeLogDirsResponse {
        results: vec![DescribeLogDirsResult {
            error_code: 0,
            log_dir: dir.display().to_string(),
            topics,
            total_bytes: -1,
            usable_bytes: -1,
            ..Default::default()
        }],
        error_code: 0,
        ..Default::default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handlers::testutil::{round_trip, state};
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn lists_partitions() {
        let st = state();
        let s = &st.shared;
        s.metadata
            .create_topic("ld", 2, BTreeMap::new(), false)
            .unwrap();
        let r = handle(
            s,
            4,
            DescribeLogDirsRequest {
                topics: None,
                ..Default::default()
            },
        )
        .await;
        assert_eq!(r.results[0].topics[0].partitions.len(), 2);
        for v in 1..=5 {
            round_trip(&r, v);
        }
    }
}
