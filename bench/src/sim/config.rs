//! The simulator's settings: `tern smsc-sim` flags and programmatic construction.

use std::net::SocketAddr;
use std::str::FromStr;

use clap::{Args, ValueEnum};

/// How message ids are written (submit_sm_resp or receipt).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IdFormat {
    /// Lower-case hexadecimal.
    Hex,
    /// Decimal.
    Decimal,
}

/// A fixed delay or a uniform range, in milliseconds: `100` or `50..500`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DelayRange {
    /// Shortest delay in ms.
    pub min_ms: u64,
    /// Longest delay in ms (equal to `min_ms` for a fixed delay).
    pub max_ms: u64,
}

impl FromStr for DelayRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|e| format!("delay {v:?}: {e}"))
        };
        let (min_ms, max_ms) = match s.split_once("..") {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if max_ms < min_ms {
            return Err(format!("delay range {s:?} ends before it starts"));
        }
        Ok(DelayRange { min_ms, max_ms })
    }
}

/// The final state a receipt reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FinalState {
    /// DELIVRD.
    Delivered,
    /// UNDELIV.
    Undeliverable,
    /// EXPIRED.
    Expired,
    /// REJECTD.
    Rejected,
}

impl FinalState {
    /// Every state, in the order of [`ReceiptMix::weights`].
    pub const ALL: [FinalState; 4] = [
        FinalState::Delivered,
        FinalState::Undeliverable,
        FinalState::Expired,
        FinalState::Rejected,
    ];

    /// The SMPP message_state value.
    pub fn message_state(self) -> u8 {
        match self {
            FinalState::Delivered => 2,
            FinalState::Expired => 3,
            FinalState::Undeliverable => 5,
            FinalState::Rejected => 8,
        }
    }

    /// The receipt's `stat:` field.
    pub fn stat(self) -> tern_sms::Stat<'static> {
        match self {
            FinalState::Delivered => tern_sms::Stat::Delivered,
            FinalState::Undeliverable => tern_sms::Stat::Undeliverable,
            FinalState::Expired => tern_sms::Stat::Expired,
            FinalState::Rejected => tern_sms::Stat::Rejected,
        }
    }

    /// Index into [`FinalState::ALL`].
    pub fn index(self) -> usize {
        match self {
            FinalState::Delivered => 0,
            FinalState::Undeliverable => 1,
            FinalState::Expired => 2,
            FinalState::Rejected => 3,
        }
    }
}

/// Relative weights of the final states: `delivered=95,undeliverable=3,expired=1,rejected=1`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiptMix {
    /// Weights in the order of [`FinalState::ALL`].
    pub weights: [u32; 4],
}

impl Default for ReceiptMix {
    fn default() -> Self {
        ReceiptMix {
            weights: [95, 3, 1, 1],
        }
    }
}

impl ReceiptMix {
    /// Only delivered receipts.
    pub const ALL_DELIVERED: ReceiptMix = ReceiptMix {
        weights: [1, 0, 0, 0],
    };

    /// Picks a state for a uniform `roll` in `0..total()`.
    pub fn pick(&self, roll: u64) -> FinalState {
        let mut rest = roll;
        for (state, weight) in FinalState::ALL.iter().zip(self.weights) {
            if rest < u64::from(weight) {
                return *state;
            }
            rest -= u64::from(weight);
        }
        FinalState::Delivered
    }

    /// Sum of the weights.
    pub fn total(&self) -> u64 {
        self.weights.iter().map(|&w| u64::from(w)).sum()
    }
}

impl FromStr for ReceiptMix {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut weights = [0u32; 4];
        for item in s.split(',').filter(|i| !i.trim().is_empty()) {
            let (name, weight) = item
                .split_once('=')
                .ok_or_else(|| format!("receipt mix item {item:?} is not state=weight"))?;
            let index = match name.trim() {
                "delivered" => 0,
                "undeliverable" => 1,
                "expired" => 2,
                "rejected" => 3,
                other => return Err(format!("unknown receipt state {other:?}")),
            };
            let weight = weight
                .trim()
                .parse::<u32>()
                .map_err(|e| format!("weight {weight:?}: {e}"))?;
            if let Some(slot) = weights.get_mut(index) {
                *slot = weight;
            }
        }
        if weights.iter().all(|&w| w == 0) {
            return Err("receipt mix has no weight".into());
        }
        Ok(ReceiptMix { weights })
    }
}

/// A command_status given as decimal or `0x` hex.
pub fn parse_status(s: &str) -> Result<u32, String> {
    let s = s.trim();
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("status {s:?}: {e}"))
}

/// One `system_id:password` pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The system_id.
    pub system_id: String,
    /// Its password.
    pub password: String,
}

impl FromStr for User {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (system_id, password) = s
            .split_once(':')
            .ok_or_else(|| format!("user {s:?} is not system_id:password"))?;
        Ok(User {
            system_id: system_id.to_owned(),
            password: password.to_owned(),
        })
    }
}

/// Everything `tern smsc-sim` can be told.
#[derive(Args, Clone, Debug)]
pub struct SimConfig {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:2775")]
    pub listen: SocketAddr,
    /// Executors (threads), each with its own SO_REUSEPORT listener.
    #[arg(long, default_value_t = 1)]
    pub shards: usize,
    /// Pin shard i to CPU `cpu + i` (unpinned when absent).
    #[arg(long)]
    pub cpu: Option<usize>,
    /// Accepted users as `system_id:password`, comma-separated (any bind if none set).
    #[arg(long, value_delimiter = ',')]
    pub users: Vec<User>,
    /// A single accepted system_id (with --password).
    #[arg(long)]
    pub system_id: Option<String>,
    /// The password of --system-id.
    #[arg(long)]
    pub password: Option<String>,
    /// Our system_id in bind_resp.
    #[arg(long, default_value = "tern-sim")]
    pub smsc_id: String,
    /// Delay from submit_sm to its receipt in ms: fixed (`100`) or uniform (`50..500`).
    #[arg(long, default_value = "0")]
    pub receipt_delay_ms: DelayRange,
    /// Weights of final states in receipts.
    #[arg(
        long,
        default_value = "delivered=95,undeliverable=3,expired=1,rejected=1"
    )]
    pub receipt_mix: ReceiptMix,
    /// `err:` codes for receipts that are not DELIVRD, picked at random.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub error_codes: Vec<u16>,
    /// Radix of the message_id in submit_sm_resp.
    #[arg(long, value_enum, default_value_t = IdFormat::Decimal)]
    pub id_format: IdFormat,
    /// Radix of the id in receipts (text and receipted_message_id).
    #[arg(long, value_enum, default_value_t = IdFormat::Decimal)]
    pub receipt_id_format: IdFormat,
    /// Fraction (0..1) of receipts sent before their submit_sm_resp.
    #[arg(long, default_value_t = 0.0)]
    pub early_receipt_ratio: f64,
    /// Refuse submit_sm with ESME_RTHROTTLED above this rate per bind (0: never).
    #[arg(long, default_value_t = 0)]
    pub throttle_tps: u32,
    /// Fraction (0..1) of submit_sm answered with --fail-status.
    #[arg(long, default_value_t = 0.0)]
    pub fail_ratio: f64,
    /// The command_status of failed submits (decimal or 0x hex).
    #[arg(long, value_parser = parse_status, default_value = "0x08")]
    pub fail_status: u32,
    /// Drop the TCP connection after this many submit_sm on it (0: never).
    #[arg(long, default_value_t = 0)]
    pub disconnect_after: u64,
    /// MO deliver_sm per second per receiver bind (0: none).
    #[arg(long, default_value_t = 0.0)]
    pub mo_rate: f64,
    /// Fraction (0..1) of MO messages sent as 3 concatenated parts with a UDH.
    #[arg(long, default_value_t = 0.0)]
    pub mo_long_ratio: f64,
    /// Our deliver_sm window per bind (receipts flow at most one window per round trip).
    #[arg(long, default_value_t = 1024)]
    pub window: u32,
    /// Most inbound requests per bind awaiting our answer (beyond: ESME_RTHROTTLED).
    #[arg(long, default_value_t = 8192)]
    pub inbound_window: u32,
    /// Send receipts without receipted_message_id / message_state TLVs.
    #[arg(long)]
    pub no_receipt_tlvs: bool,
    /// Receipts held per shard (pending, due or in flight); when full, submit_sm gets
    /// ESME_RMSGQFUL.
    #[arg(long, default_value_t = 262_144)]
    pub receipt_queue: usize,
    /// Seed of the traffic mix.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print stats as a JSON line every this many seconds (0: only at the end).
    #[arg(long, default_value_t = 5)]
    pub stats_interval_s: u64,
    /// Stop after this many seconds (0: run until killed).
    #[arg(long, default_value_t = 0)]
    pub duration_s: u64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            shards: 1,
            cpu: None,
            users: Vec::new(),
            system_id: None,
            password: None,
            smsc_id: "tern-sim".into(),
            receipt_delay_ms: DelayRange {
                min_ms: 0,
                max_ms: 0,
            },
            receipt_mix: ReceiptMix::default(),
            error_codes: vec![1],
            id_format: IdFormat::Decimal,
            receipt_id_format: IdFormat::Decimal,
            early_receipt_ratio: 0.0,
            throttle_tps: 0,
            fail_ratio: 0.0,
            fail_status: 0x08,
            disconnect_after: 0,
            mo_rate: 0.0,
            mo_long_ratio: 0.0,
            window: 1024,
            inbound_window: 8192,
            no_receipt_tlvs: false,
            receipt_queue: 262_144,
            seed: 1,
            stats_interval_s: 5,
            duration_s: 0,
        }
    }
}

impl SimConfig {
    /// Whether `system_id`/`password` may bind: any pair when no user is configured.
    pub fn authenticate(&self, system_id: &[u8], password: &[u8]) -> tern_smpp::CommandStatus {
        use tern_smpp::CommandStatus as S;
        let single = self
            .system_id
            .as_ref()
            .map(|id| (id.as_str(), self.password.as_deref().unwrap_or("")));
        let users = self
            .users
            .iter()
            .map(|u| (u.system_id.as_str(), u.password.as_str()))
            .chain(single);
        let mut any = false;
        for (id, pw) in users {
            any = true;
            if id.as_bytes() == system_id {
                return if pw.as_bytes() == password {
                    S::ESME_ROK
                } else {
                    S::ESME_RINVPASWD
                };
            }
        }
        if any { S::ESME_RINVSYSID } else { S::ESME_ROK }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_mix_parses_and_picks_by_weight() {
        let mix: ReceiptMix = "delivered=2,rejected=1".parse().unwrap();
        assert_eq!(mix.weights, [2, 0, 0, 1]);
        assert_eq!(mix.total(), 3);
        assert_eq!(mix.pick(0), FinalState::Delivered);
        assert_eq!(mix.pick(1), FinalState::Delivered);
        assert_eq!(mix.pick(2), FinalState::Rejected);
        assert!("nothing=1".parse::<ReceiptMix>().is_err());
        assert!("delivered=0".parse::<ReceiptMix>().is_err());
    }

    #[test]
    fn delay_range_is_fixed_or_min_max() {
        assert_eq!(
            "7".parse(),
            Ok(DelayRange {
                min_ms: 7,
                max_ms: 7
            })
        );
        assert_eq!(
            "5..9".parse(),
            Ok(DelayRange {
                min_ms: 5,
                max_ms: 9
            })
        );
        assert!("9..5".parse::<DelayRange>().is_err());
    }

    #[test]
    fn any_bind_is_accepted_without_users_and_checked_with_them() {
        use tern_smpp::CommandStatus as S;
        let mut config = SimConfig::default();
        assert_eq!(config.authenticate(b"x", b"y"), S::ESME_ROK);
        config.users = vec!["a:b".parse().unwrap()];
        assert_eq!(config.authenticate(b"a", b"b"), S::ESME_ROK);
        assert_eq!(config.authenticate(b"a", b"c"), S::ESME_RINVPASWD);
        assert_eq!(config.authenticate(b"z", b"b"), S::ESME_RINVSYSID);
    }

    #[test]
    fn status_reads_hex_or_decimal() {
        assert_eq!(parse_status("0x58"), Ok(0x58));
        assert_eq!(parse_status("20"), Ok(20));
        assert!(parse_status("zz").is_err());
    }
}
