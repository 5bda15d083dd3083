//! Drain: online log parsing with a fixed-depth parse tree (He, Zhu, Zheng and Lyu, "Drain: An
//! Online Log Parsing Approach with Fixed Depth Tree", ICWS 2017).
//!
//! A message is masked ([`crate::mask`]), split on whitespace, and routed down a tree: first by
//! its number of tokens, then by its first `depth − 3` tokens (a token with a digit, or one that
//! would give a node more than `max_children` children, goes down the `<*>` branch). The leaf
//! holds the templates (log groups) of that route; the message joins the most similar one — the
//! share of positions where the template's constant token equals the message's token, ties to
//! the template with more wildcards — if that share reaches `similarity`, and the positions
//! where they differ become `<*>`. Otherwise the message starts a new template. With
//! [`DrainConfig::count_wildcards`] off (anomex's default), the share is taken over the
//! template's constant positions only. Each message costs
//! its tokens plus one comparison per template in its leaf, whatever the length of the log.
//!
//! The parser learns one line at a time ([`Drain::add`]), can match without learning
//! ([`Drain::find`]), and serialises whole, so it can be snapshotted like any streaming state.
//! Tokens are interned once they belong to a template; a message's other tokens are only looked
//! up, so memory grows with the templates, not with the parameters seen.
//!
//! Two edge cases differ from the reference implementation (logpai/logparser `Drain.py`), both
//! without effect on the groups it reports: a message shorter than the tree's depth is attached
//! at its last node (the reference creates a fresh group with the same template for each such
//! line, which its output then merges by template text), and an empty message has one group.

use crate::mask::{Masker, WILDCARD};
use anomex_core::{Error, Result};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// The symbol of `<*>`.
const WILD: u32 = 0;
/// What a message token not seen in any template compares as: equal to nothing.
const UNSEEN: u32 = u32::MAX;

/// Drain's settings; a field missing from serialised settings takes its default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DrainConfig {
    /// Depth of every leaf, counting the root and the length layer (the reference's `depth`;
    /// 4 routes by the first token). At least 3.
    pub depth: usize,
    /// Least share of equal tokens for a message to join a template (`st`), in (0, 1].
    pub similarity: f64,
    /// Most children of an inner node before new tokens share the `<*>` branch.
    pub max_children: usize,
    /// Masks applied before tokenising: [`crate::mask::BUILTIN`] names, [`crate::mask::COLLAPSE`]
    /// or regular expressions.
    pub masks: Vec<String>,
    /// Whether a template's `<*>` positions count in the similarity's denominator: `true` is
    /// Drain's rule (share of all positions), `false` the share of the template's constant
    /// positions, so a message with many parameters is not pushed out of its template by them.
    pub count_wildcards: bool,
}

impl Default for DrainConfig {
    /// The one setting used for every system when none is chosen (`docs/logs.md` has the
    /// accuracy of each on the 16 Loghub systems).
    fn default() -> Self {
        Self {
            depth: 5,
            similarity: 0.7,
            max_children: 100,
            masks: ["path", "ip", "hex", "domain", "hexid", "number", "collapse"]
                .map(String::from)
                .to_vec(),
            count_wildcards: false,
        }
    }
}

impl DrainConfig {
    /// Checks the settings; the error names the one that is wrong.
    pub fn validate(&self) -> Result<()> {
        if self.depth < 3 {
            return Err(Error::param(
                "depth",
                format!("must be at least 3, got {}", self.depth),
            ));
        }
        if !(self.similarity > 0.0 && self.similarity <= 1.0) {
            return Err(Error::param(
                "similarity",
                format!("must be in (0, 1], got {}", self.similarity),
            ));
        }
        if self.max_children < 2 {
            return Err(Error::param(
                "max_children",
                format!("must be at least 2, got {}", self.max_children),
            ));
        }
        Masker::new(&self.masks).map(|_| ())
    }
}

/// A template's identifier: its index in [`Drain::templates`], stable for the parser's life.
pub type TemplateId = u32;

/// What [`Drain::add`] did with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The template the message belongs to.
    pub template: TemplateId,
    /// The message started a new template.
    pub created: bool,
    /// The message changed its template (a constant became `<*>`).
    pub changed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Node {
    children: FxHashMap<u32, u32>,
    groups: Vec<TemplateId>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Group {
    tokens: Vec<u32>,
    count: u64,
}

/// What is saved of a parser; checked whole when read back ([`Drain::from_state`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrainState {
    config: DrainConfig,
    symbols: Vec<String>,
    lengths: Vec<(u32, u32)>,
    nodes: Vec<Node>,
    groups: Vec<Group>,
}

/// A Drain parser (see the module documentation).
#[derive(Debug, Clone)]
pub struct Drain {
    config: DrainConfig,
    masker: Masker,
    symbols: Vec<Box<str>>,
    lookup: FxHashMap<Box<str>, u32>,
    /// First layer: message length → node.
    lengths: FxHashMap<u32, u32>,
    nodes: Vec<Node>,
    groups: Vec<Group>,
    /// Scratch: the current message's symbols.
    scratch: Vec<u32>,
}

impl Drain {
    /// A parser with no templates.
    pub fn new(config: DrainConfig) -> Result<Self> {
        config.validate()?;
        let masker = Masker::new(&config.masks)?;
        let mut lookup = FxHashMap::default();
        lookup.insert(Box::<str>::from(WILDCARD), WILD);
        Ok(Self {
            config,
            masker,
            symbols: vec![WILDCARD.into()],
            lookup,
            lengths: FxHashMap::default(),
            nodes: Vec::new(),
            groups: Vec::new(),
            scratch: Vec::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &DrainConfig {
        &self.config
    }

    /// Parses one message and learns from it: returns its template.
    pub fn add(&mut self, message: &str) -> Parsed {
        let masked = self.masker.apply(message);
        let mut symbols = std::mem::take(&mut self.scratch);
        symbols.clear();
        self.symbols_of(&masked, &mut symbols);
        let parsed = match self.search(&symbols) {
            Some(id) => {
                let group = &mut self.groups[id as usize];
                group.count += 1;
                let mut changed = false;
                for (t, &s) in group.tokens.iter_mut().zip(&symbols) {
                    if *t != WILD && *t != s {
                        *t = WILD;
                        changed = true;
                    }
                }
                Parsed {
                    template: id,
                    created: false,
                    changed,
                }
            }
            None => {
                let tokens: Vec<u32> = tokens(&masked).map(|t| self.intern(t)).collect();
                let id = self.groups.len() as TemplateId;
                self.groups.push(Group { tokens, count: 1 });
                self.insert(id);
                Parsed {
                    template: id,
                    created: true,
                    changed: false,
                }
            }
        };
        self.scratch = symbols;
        parsed
    }

    /// The template a message would join, without learning from it (`None`: it would start a
    /// new one).
    pub fn find(&self, message: &str) -> Option<TemplateId> {
        let mut symbols = Vec::new();
        self.symbols_of(&self.masker.apply(message), &mut symbols);
        self.search(&symbols)
    }

    /// A masked message's tokens as symbols, [`UNSEEN`] for those in no template.
    fn symbols_of(&self, masked: &str, out: &mut Vec<u32>) {
        out.extend(tokens(masked).map(|t| self.lookup.get(t).copied().unwrap_or(UNSEEN)));
    }

    /// Number of templates.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no message has been parsed.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// A template's text, tokens joined by one space (`None` for an unknown id).
    pub fn template(&self, id: TemplateId) -> Option<String> {
        let group = self.groups.get(id as usize)?;
        Some(
            group
                .tokens
                .iter()
                .map(|&s| &*self.symbols[s as usize])
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// How many messages a template has taken.
    pub fn count(&self, id: TemplateId) -> Option<u64> {
        self.groups.get(id as usize).map(|g| g.count)
    }

    /// Every template: id, text, count.
    pub fn templates(&self) -> impl Iterator<Item = (TemplateId, String, u64)> + '_ {
        (0..self.groups.len() as TemplateId).map(|id| {
            let g = &self.groups[id as usize];
            (id, self.template(id).unwrap_or_default(), g.count)
        })
    }

    /// The parameters of a message under a template: its tokens where the template has `<*>`.
    /// They are read from the message as written when masking kept its number of tokens, and
    /// from the masked message otherwise.
    pub fn parameters(&self, id: TemplateId, message: &str) -> Vec<String> {
        let Some(group) = self.groups.get(id as usize) else {
            return Vec::new();
        };
        let masked = self.masker.apply(message);
        let masked: Vec<&str> = tokens(&masked).collect();
        let raw: Vec<&str> = tokens(message).collect();
        let source = if raw.len() == masked.len() {
            &raw
        } else {
            &masked
        };
        if source.len() != group.tokens.len() {
            return Vec::new();
        }
        group
            .tokens
            .iter()
            .zip(source)
            .zip(&masked)
            .filter(|((&t, raw), masked)| t == WILD || **masked == WILDCARD || raw != masked)
            .map(|((_, raw), _)| raw.to_string())
            .collect()
    }

    /// The parser's whole state, for a snapshot or a model file.
    pub fn state(&self) -> DrainState {
        let mut lengths: Vec<(u32, u32)> = self.lengths.iter().map(|(&l, &n)| (l, n)).collect();
        lengths.sort_unstable();
        DrainState {
            config: self.config.clone(),
            symbols: self.symbols.iter().map(|s| s.to_string()).collect(),
            lengths,
            nodes: self.nodes.clone(),
            groups: self.groups.clone(),
        }
    }

    /// A parser from a saved state, checked whole: every reference in range, the settings
    /// valid, the tree consistent with the templates. A state from an untrusted file that fails
    /// a check is an error naming it, never a parser that panics later.
    pub fn from_state(state: DrainState) -> Result<Self> {
        let bad = |what: String| Error::input(format!("invalid parser state: {what}"));
        let mut parser = Self::new(state.config)?;
        if state.symbols.first().map(String::as_str) != Some(WILDCARD) {
            return Err(bad(format!("symbol 0 must be {WILDCARD}")));
        }
        parser.symbols = state.symbols.iter().map(|s| s.as_str().into()).collect();
        parser.lookup = FxHashMap::default();
        for (i, s) in state.symbols.iter().enumerate() {
            if parser.lookup.insert(s.as_str().into(), i as u32).is_some() {
                return Err(bad(format!("symbol {s:?} is listed twice")));
            }
        }
        let (n_symbols, n_nodes, n_groups) =
            (state.symbols.len(), state.nodes.len(), state.groups.len());
        for (i, g) in state.groups.iter().enumerate() {
            if let Some(s) = g.tokens.iter().find(|&&s| s as usize >= n_symbols) {
                return Err(bad(format!(
                    "template {i} refers to symbol {s} of {n_symbols}"
                )));
            }
        }
        for (i, node) in state.nodes.iter().enumerate() {
            if let Some((s, c)) = node
                .children
                .iter()
                .find(|(&s, &c)| s as usize >= n_symbols || c as usize >= n_nodes)
            {
                return Err(bad(format!(
                    "node {i} has a child ({s} → {c}) out of range"
                )));
            }
            if let Some(g) = node.groups.iter().find(|&&g| g as usize >= n_groups) {
                return Err(bad(format!("node {i} lists template {g} of {n_groups}")));
            }
        }
        if let Some((l, n)) = state.lengths.iter().find(|(_, n)| *n as usize >= n_nodes) {
            return Err(bad(format!("length {l} points to node {n} of {n_nodes}")));
        }
        parser.lengths = state.lengths.into_iter().collect();
        parser.nodes = state.nodes;
        parser.groups = state.groups;
        // the tree must be acyclic and route each template to a leaf that lists it: replaying
        // every template's route checks both in one pass (a cycle would need a route longer
        // than the depth)
        for id in 0..n_groups as TemplateId {
            let tokens = parser.groups[id as usize].tokens.clone();
            if parser
                .search_leaf(&tokens)
                .map(|leaf| parser.nodes[leaf as usize].groups.contains(&id))
                != Some(true)
            {
                return Err(bad(format!(
                    "template {id} is not where the tree routes it"
                )));
            }
        }
        Ok(parser)
    }

    fn intern(&mut self, token: &str) -> u32 {
        if let Some(&s) = self.lookup.get(token) {
            return s;
        }
        let s = self.symbols.len() as u32;
        self.symbols.push(token.into());
        self.lookup.insert(token.into(), s);
        s
    }

    /// Inner layers a route goes through below the length layer.
    fn token_layers(&self, len: usize) -> usize {
        (self.config.depth - 3).min(len)
    }

    /// The leaf a message's route ends at, if the tree has one.
    fn search_leaf(&self, symbols: &[u32]) -> Option<u32> {
        let mut node = *self.lengths.get(&(symbols.len() as u32))?;
        for &s in &symbols[..self.token_layers(symbols.len())] {
            let children = &self.nodes[node as usize].children;
            node = *children.get(&s).or_else(|| children.get(&WILD))?;
        }
        Some(node)
    }

    /// The template a message joins (tree search, then the most similar template of its leaf).
    fn search(&self, symbols: &[u32]) -> Option<TemplateId> {
        let leaf = self.search_leaf(symbols)?;
        let mut best: Option<(TemplateId, usize, usize)> = None;
        for &id in &self.nodes[leaf as usize].groups {
            let tokens = &self.groups[id as usize].tokens;
            let (mut same, mut wild) = (0, 0);
            for (&t, &s) in tokens.iter().zip(symbols) {
                if t == WILD {
                    wild += 1;
                } else if t == s {
                    same += 1;
                }
            }
            if best.is_none_or(|(_, bs, bw)| same > bs || (same == bs && wild > bw)) {
                best = Some((id, same, wild));
            }
        }
        let (id, same, wild) = best?;
        let denominator = if self.config.count_wildcards {
            symbols.len()
        } else {
            symbols.len() - wild
        };
        let share = if denominator == 0 {
            1.0
        } else {
            same as f64 / denominator as f64
        };
        (share >= self.config.similarity).then_some(id)
    }

    /// Adds a new template's route to the tree (the reference's `addSeqToPrefixTree`).
    fn insert(&mut self, id: TemplateId) {
        let tokens = self.groups[id as usize].tokens.clone();
        let len = tokens.len() as u32;
        let mut node = match self.lengths.get(&len) {
            Some(&n) => n,
            None => self.new_node_for_length(len),
        };
        for &s in &tokens[..self.token_layers(tokens.len())] {
            node = self.child_for(node, s);
        }
        self.nodes[node as usize].groups.push(id);
    }

    fn new_node_for_length(&mut self, len: u32) -> u32 {
        let n = self.nodes.len() as u32;
        self.nodes.push(Node::default());
        self.lengths.insert(len, n);
        n
    }

    /// The child a template token goes to, created as Drain's rules say.
    fn child_for(&mut self, node: u32, s: u32) -> u32 {
        if let Some(&c) = self.nodes[node as usize].children.get(&s) {
            return c;
        }
        let has_digit = self.symbols[s as usize].bytes().any(|b| b.is_ascii_digit());
        let children = &self.nodes[node as usize].children;
        let has_wild = children.contains_key(&WILD);
        let key = if has_digit {
            WILD
        } else if has_wild {
            if children.len() < self.config.max_children {
                s
            } else {
                WILD
            }
        } else if children.len() + 1 < self.config.max_children {
            s
        } else {
            WILD
        };
        if let Some(&c) = self.nodes[node as usize].children.get(&key) {
            return c;
        }
        let c = self.nodes.len() as u32;
        self.nodes.push(Node::default());
        self.nodes[node as usize].children.insert(key, c);
        c
    }
}

impl Serialize for Drain {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.state().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Drain {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Drain::from_state(DrainState::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A message's whitespace-separated tokens (`str::split_whitespace`), on bytes when the
/// message is ASCII — most log lines are, and splitting them needs no character decoding.
fn tokens(message: &str) -> Tokens<'_> {
    if message.is_ascii() {
        Tokens::Ascii { message, pos: 0 }
    } else {
        Tokens::Unicode(message.split_whitespace())
    }
}

enum Tokens<'a> {
    Ascii { message: &'a str, pos: usize },
    Unicode(std::str::SplitWhitespace<'a>),
}

/// The ASCII characters `char::is_whitespace` accepts (vertical tab included, unlike
/// `u8::is_ascii_whitespace`).
fn ascii_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r')
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;
    fn next(&mut self) -> Option<&'a str> {
        match self {
            Tokens::Unicode(split) => split.next(),
            Tokens::Ascii { message, pos } => {
                let bytes = message.as_bytes();
                while *pos < bytes.len() && ascii_space(bytes[*pos]) {
                    *pos += 1;
                }
                if *pos == bytes.len() {
                    return None;
                }
                let start = *pos;
                while *pos < bytes.len() && !ascii_space(bytes[*pos]) {
                    *pos += 1;
                }
                message.get(start..*pos)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_tokens_split_as_split_whitespace_does() {
        for text in [
            "",
            "  ",
            "a",
            " a  b\tc\x0Bd\x0Ce\r\nf ",
            "héllo  wörld\u{3000}x",
            "x\u{85}y",
        ] {
            let ours: Vec<&str> = tokens(text).collect();
            let std: Vec<&str> = text.split_whitespace().collect();
            assert_eq!(ours, std, "{text:?}");
        }
    }

    fn plain(depth: usize, similarity: f64) -> Drain {
        Drain::new(DrainConfig {
            depth,
            similarity,
            max_children: 100,
            masks: vec![],
            count_wildcards: true,
        })
        .unwrap()
    }

    #[test]
    fn the_papers_example_groups_and_generalises() {
        // He et al. 2017, Fig. 1: two messages of one event differ in a parameter
        let mut d = plain(4, 0.5);
        let a = d.add("Receive from node 4");
        let b = d.add("Receive from node 5");
        let c = d.add("Delete block blk_3");
        assert!(a.created && !b.created && b.changed && c.created);
        assert_eq!(a.template, b.template);
        assert_ne!(a.template, c.template);
        assert_eq!(d.template(a.template).unwrap(), "Receive from node <*>");
        assert_eq!(d.count(a.template), Some(2));
        assert_eq!(d.parameters(a.template, "Receive from node 7"), vec!["7"]);
        assert_eq!(d.find("Receive from node 9"), Some(a.template));
        assert_eq!(d.find("Send to node 9"), None);
    }

    #[test]
    fn similarity_threshold_decides_between_joining_and_a_new_template() {
        let mut strict = plain(4, 0.9);
        let a = strict.add("user alice logged in from web");
        let b = strict.add("user bob logged out from app");
        assert_ne!(a.template, b.template);
        let mut loose = plain(4, 0.5);
        let a = loose.add("user alice logged in from web");
        let b = loose.add("user bob logged out from app");
        assert_eq!(a.template, b.template);
        assert_eq!(
            loose.template(a.template).unwrap(),
            "user <*> logged <*> from <*>"
        );
    }

    #[test]
    fn messages_of_other_lengths_or_first_tokens_never_share_a_template() {
        let mut d = plain(4, 0.1);
        let a = d.add("disk full on sda");
        let b = d.add("disk full on sda now");
        let c = d.add("memory full on sda");
        assert!(a.created && b.created && c.created);
    }

    #[test]
    fn tokens_with_digits_share_the_wildcard_branch() {
        let mut d = plain(4, 0.5);
        let a = d.add("job1 started ok");
        let b = d.add("job2 started ok");
        assert_eq!(a.template, b.template);
        assert_eq!(d.template(a.template).unwrap(), "<*> started ok");
    }

    #[test]
    fn ties_go_to_the_template_with_more_wildcards() {
        let mut d = plain(4, 0.5);
        let exact = d.add("a b c d").template;
        let general = d.add("a p q e").template;
        assert_eq!(d.add("a r s e").template, general);
        assert_eq!(d.template(general).unwrap(), "a <*> <*> e");
        // two equal tokens with each template: the one with more wildcards wins
        assert_eq!(d.add("a b z e").template, general);
        assert_eq!(d.template(exact).unwrap(), "a b c d");
    }

    #[test]
    fn short_and_empty_messages_have_one_template_each() {
        let mut d = plain(6, 0.5);
        let a = d.add("ok");
        assert_eq!(d.add("ok").template, a.template);
        let e = d.add("   ");
        assert_eq!(d.add("").template, e.template);
        assert_eq!(d.len(), 2);
    }

    #[test]
    fn state_round_trips_and_corrupt_states_are_named_errors() {
        let mut d = Drain::new(DrainConfig::default()).unwrap();
        for line in [
            "open file a",
            "open file b",
            "closed 12 handles",
            "closed 3 handles",
        ] {
            d.add(line);
        }
        let json = serde_json::to_string(&d).unwrap();
        let mut back: Drain = serde_json::from_str(&json).unwrap();
        assert_eq!(back.len(), d.len());
        assert_eq!(
            back.add("open file c").template,
            d.add("open file c").template
        );

        let mut state: serde_json::Value = serde_json::from_str(&json).unwrap();
        state["groups"][0]["tokens"][0] = 999.into();
        let e = serde_json::from_value::<Drain>(state)
            .unwrap_err()
            .to_string();
        assert!(e.contains("symbol 999"), "{e}");

        let mut state: serde_json::Value = serde_json::from_str(&json).unwrap();
        let leaf = state["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .position(|n| !n["groups"].as_array().unwrap().is_empty())
            .unwrap();
        state["nodes"][leaf]["groups"] = serde_json::json!([]);
        let e = serde_json::from_value::<Drain>(state)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not where the tree routes"), "{e}");

        let mut state: serde_json::Value = serde_json::from_str(&json).unwrap();
        state["config"]["similarity"] = 2.0.into();
        let e = serde_json::from_value::<Drain>(state)
            .unwrap_err()
            .to_string();
        assert!(e.contains("similarity"), "{e}");
    }
}
