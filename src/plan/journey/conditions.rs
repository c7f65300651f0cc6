//! The steps that are not requests or blocks: `set:` values and `when:` conditions.

use super::{Compiler, Op, When};

impl Compiler<'_, '_> {
    /// A `set:` step: each value a template of what is available before it,
    /// its name available to the steps after it.
    pub(super) fn set(
        &mut self,
        values: &std::collections::BTreeMap<String, serde_json::Value>,
        at: &str,
        always: bool,
        program: &mut Vec<Op>,
    ) {
        let mut compiled = Vec::new();
        for (name, value) in values {
            let value_at = format!("{at}.set.{name}");
            if !self.variable_name_ok(name, &value_at) {
                continue;
            }
            match crate::template::JsonTemplate::compile(value, self.cx.vars, &self.variables, self.cx.env) {
                Ok(template) => compiled.push((self.variables.slot(name), template)),
                Err(e) => self.problems.add(value_at, e),
            }
        }
        for (slot, _) in &compiled {
            self.variables.set_available(*slot, true);
        }
        program.push(Op::Set { values: compiled, always });
    }

    /// A `when:` compiled at `at`; its expression reads what is available before the step.
    pub(super) fn when(&mut self, when: &crate::config::WhenConfig, at: &str) -> Option<When> {
        match (when.every, when.chance, &when.expr) {
            (Some(0), None, None) => self.problems.add(format!("{at}.every"), "must be at least 1"),
            (Some(n), None, None) => return Some(When::Every(n)),
            (None, Some(p), None) if !(0.0..=1.0).contains(&p) => {
                self.problems.add(format!("{at}.chance"), format!("a probability from 0 to 1, got {p}"))
            }
            (None, Some(p), None) => return Some(When::Chance(p)),
            (None, None, Some(source)) => {
                let names = crate::check::expr::Names {
                    vars: self.cx.vars,
                    variables: (0..self.variables.len())
                        .filter(|slot| self.variables.is_available(*slot))
                        .map(|slot| (self.variables.name(slot).to_string(), slot))
                        .collect(),
                };
                match crate::check::ExprCheck::compile(source, &names) {
                    Ok(expr) => return Some(When::Expr(expr)),
                    Err(problem) => self.problems.add(format!("{at}.expr"), problem),
                }
            }
            _ => self.problems.add(at, "give one of every, chance, expr"),
        }
        None
    }
}
