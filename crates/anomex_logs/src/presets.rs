//! The Loghub benchmark's per-system settings: each system's log format, and the masks,
//! similarity and depth Drain's authors tuned for it (Zhu et al., ICSE-SEIP 2019; logpai/logparser
//! `Drain/benchmark.py`).
//!
//! The formats are what a user of these systems needs to find the message in a line. The tuned
//! parser settings are kept to compare against: anomex's default ([`DrainConfig::default`]) is
//! one setting for every system, as users run it (`docs/logs.md` has both side by side).

use crate::drain::DrainConfig;

/// One system's settings.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The system's name, as Loghub spells it.
    pub name: &'static str,
    /// Its log format ([`crate::format::LogFormat`]).
    pub format: &'static str,
    /// Masks tuned for it.
    pub masks: &'static [&'static str],
    /// Similarity threshold tuned for it.
    pub similarity: f64,
    /// Depth tuned for it.
    pub depth: usize,
}

impl Preset {
    /// The tuned parser settings.
    pub fn tuned(&self) -> DrainConfig {
        DrainConfig {
            depth: self.depth,
            similarity: self.similarity,
            max_children: 100,
            masks: self.masks.iter().map(|m| m.to_string()).collect(),
            count_wildcards: true,
        }
    }
}

/// The 16 Loghub systems.
pub const LOGHUB: &[Preset] = &[
    Preset {
        name: "HDFS",
        format: "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        masks: &[r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "Hadoop",
        format: r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
        masks: &[r"(\d+\.){3}\d+"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "Spark",
        format: "<Date> <Time> <Level> <Component>: <Content>",
        masks: &[r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "Zookeeper",
        format: r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
        masks: &[r"(/|)(\d+\.){3}\d+(:\d+)?"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "BGL",
        format: "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>",
        masks: &[r"core\.\d+"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "HPC",
        format: "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
        masks: &[r"=\d+"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "Thunderbird",
        format: r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>",
        masks: &[r"(\d+\.){3}\d+"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "Windows",
        format: "<Date> <Time>, <Level>                  <Component>    <Content>",
        masks: &[r"0x.*?\s"],
        similarity: 0.7,
        depth: 5,
    },
    Preset {
        name: "Linux",
        format: r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
        masks: &[r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}"],
        similarity: 0.39,
        depth: 6,
    },
    Preset {
        name: "Android",
        format: "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
        masks: &[
            r"(/[\w-]+)+",
            r"([\w-]+\.){2,}[\w-]+",
            r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b",
        ],
        similarity: 0.2,
        depth: 6,
    },
    Preset {
        name: "HealthApp",
        format: r"<Time>\|<Component>\|<Pid>\|<Content>",
        masks: &[],
        similarity: 0.2,
        depth: 4,
    },
    Preset {
        name: "Apache",
        format: r"\[<Time>\] \[<Level>\] <Content>",
        masks: &[r"(\d+\.){3}\d+"],
        similarity: 0.5,
        depth: 4,
    },
    Preset {
        name: "Proxifier",
        format: r"\[<Time>\] <Program> - <Content>",
        masks: &[
            r"<\d+\ssec",
            r"([\w-]+\.)+[\w-]+(:\d+)?",
            r"\d{2}:\d{2}(:\d{2})*",
            r"[KGTM]B",
        ],
        similarity: 0.6,
        depth: 3,
    },
    Preset {
        name: "OpenSSH",
        format: r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
        masks: &[r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"],
        similarity: 0.6,
        depth: 5,
    },
    Preset {
        name: "OpenStack",
        format: r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
        masks: &[r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"],
        similarity: 0.5,
        depth: 5,
    },
    Preset {
        name: "Mac",
        format: r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>",
        masks: &[r"([\w-]+\.){2,}[\w-]+"],
        similarity: 0.7,
        depth: 6,
    },
];

/// A Loghub system's preset by name (case-insensitive).
pub fn loghub(name: &str) -> Option<&'static Preset> {
    LOGHUB.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::LogFormat;

    #[test]
    fn every_preset_compiles() {
        for p in LOGHUB {
            LogFormat::new(p.format).unwrap_or_else(|e| panic!("{}: {e}", p.name));
            p.tuned()
                .validate()
                .unwrap_or_else(|e| panic!("{}: {e}", p.name));
        }
        assert_eq!(LOGHUB.len(), 16);
        assert_eq!(loghub("hdfs").map(|p| p.name), Some("HDFS"));
    }
}
