//! The condition language of `on_when`, `off_when` and `require`.
//!
//! Grammar (CONTRACT §2):
//! ```text
//! expr    := or
//! or      := and ("or" and)*
//! and     := unary ("and" unary)*
//! unary   := "not" unary | primary
//! primary := "(" expr ")" | operand OP number | node "." output
//! OP      := "<" | "<=" | ">" | ">=" | "==" | "!="
//! operand := sensor | node "." sensor
//! ```
//! Names are resolved against the settings when they are loaded: a bare `sensor` belongs to the
//! output's own node; `a.b` is an output reference when node `a` has an output `b`, otherwise a
//! sensor of node `a`.
//!
//! Reading a condition happens in two steps: [`parse::parse_condition`] turns the text into an
//! unresolved [`parse::RawCondition`] (syntax errors carry their offset in the text), and
//! [`resolve::resolve_condition`] binds every name to a node, sensor or output.

mod evaluate;
pub mod parse;
pub mod resolve;

pub use evaluate::{ConditionInput, ConditionInputs};

/// A parsed and resolved condition together with its source text.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionExpr {
    /// The condition exactly as written in the config, used in reasons and error messages.
    pub source: String,
    /// The resolved syntax tree.
    pub root: Condition,
}

/// A node of a condition's syntax tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `operand OP number`, e.g. `soil_moisture < 30`.
    Compare {
        /// The sensor compared.
        sensor: SensorRef,
        /// The comparison.
        op: CompareOp,
        /// The finite number on the right.
        value: f64,
    },
    /// `node.output`: true while that output is ON.
    Output(OutputRef),
    /// `not x`.
    Not(Box<Condition>),
    /// `a and b and ...` (at least two terms).
    And(Vec<Condition>),
    /// `a or b or ...` (at least two terms).
    Or(Vec<Condition>),
}

/// A sensor named in a condition, resolved to its node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SensorRef {
    /// The node that reports the sensor.
    pub node: String,
    /// The sensor name.
    pub sensor: String,
    /// How it was written (`soil_moisture` or `tank.level`), used in reasons.
    pub written: String,
}

/// An output named in a condition.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutputRef {
    /// The node that owns the output.
    pub node: String,
    /// The output name.
    pub output: String,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl CompareOp {
    /// The operator as written in a condition: `<`, `<=`, `>`, `>=`, `==` or `!=`.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Eq => "==",
            CompareOp::Ne => "!=",
        }
    }
}

impl std::fmt::Display for CompareOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.symbol())
    }
}
