//! Reference cycles between outputs (`a.x` depends on `b.y` which depends on `a.x`).
//!
//! An output's conditions may use other outputs as booleans; a cycle would make an output's
//! state depend on itself, so the decision would depend on evaluation order. Every cycle found
//! by a depth-first search is reported once, at the reference that closes it.

use std::collections::{BTreeMap, BTreeSet};

use super::nodes::LoadedNode;
use super::outputs::OutputEdge;
use super::reader::Reader;
use crate::condition::OutputRef;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    InProgress,
    Done,
}

/// Reports every reference cycle between outputs.
pub(super) fn reject_cycles(reader: &mut Reader<'_>, nodes: &[LoadedNode]) {
    let mut graph: BTreeMap<OutputRef, &[OutputEdge]> = BTreeMap::new();
    for node in nodes {
        for output in &node.outputs {
            let key = OutputRef {
                node: node.settings.id.clone(),
                output: output.name.clone(),
            };
            graph.insert(key, &output.edges);
        }
    }
    let mut search = Search {
        graph: &graph,
        state: BTreeMap::new(),
        stack: Vec::new(),
        reported: BTreeSet::new(),
        reader,
    };
    for start in graph.keys() {
        if !search.state.contains_key(start) {
            search.visit(start);
        }
    }
}

struct Search<'g, 'r, 's> {
    graph: &'g BTreeMap<OutputRef, &'g [OutputEdge]>,
    state: BTreeMap<&'g OutputRef, Visit>,
    stack: Vec<&'g OutputRef>,
    /// Cycles already reported, as their sorted member lists.
    reported: BTreeSet<Vec<&'g OutputRef>>,
    reader: &'r mut Reader<'s>,
}

impl<'g> Search<'g, '_, '_> {
    fn visit(&mut self, output: &'g OutputRef) {
        self.state.insert(output, Visit::InProgress);
        self.stack.push(output);
        for edge in self.graph.get(output).copied().unwrap_or_default() {
            match self.state.get(&edge.to) {
                Some(Visit::Done) => {}
                Some(Visit::InProgress) => self.report(edge),
                None => {
                    if let Some((target, _)) = self.graph.get_key_value(&edge.to) {
                        self.visit(target);
                    }
                }
            }
        }
        self.stack.pop();
        self.state.insert(output, Visit::Done);
    }

    /// Reports the cycle closed by `edge`, whose target is on the stack.
    fn report(&mut self, edge: &OutputEdge) {
        let Some(start) = self.stack.iter().position(|member| **member == edge.to) else {
            return;
        };
        let members = &self.stack[start..];
        let mut key: Vec<&OutputRef> = members.to_vec();
        key.sort();
        if !self.reported.insert(key) {
            return;
        }
        let path: Vec<String> = members
            .iter()
            .chain(std::iter::once(&members[0]))
            .map(|member| format!("{}.{}", member.node, member.output))
            .collect();
        self.reader.error_at(
            edge.at.offset,
            &edge.at.field,
            format!(
                "reference cycle `{}`: an output cannot depend on itself",
                path.join(" -> ")
            ),
        );
    }
}
