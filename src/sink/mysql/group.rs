//! One target transaction out of several source transactions: a worker
//! applies the ready transactions at the head of its queue together (see
//! [`super::apply`]), and their plans are merged first.
//!
//! A `REPLACE` joins the last statement on its table when that one is a
//! `REPLACE` with the same head (table and column list). Its rows move
//! earlier, past statements on other tables only, which changes nothing
//! inside one transaction (the mirror's session runs without foreign key
//! checks); the rows of one table keep their log order, and a multi-row
//! `REPLACE` applies its rows in order. A fence (`USE`, a replayed
//! statement) is never crossed.
//!
//! Why: a small OLTP transaction is one short `REPLACE`, and the target
//! spends as much on taking a statement (parse, open and lock the table,
//! a binlog table map) as on its rows. A group of them becomes one
//! statement per table: on sysbench `oltp_write_only` transactions the
//! target's CPU per transaction is about half.

use super::{Rows, Statement};
use std::collections::HashMap;

/// A statement of the merged group, and the log records it comes from.
#[derive(Debug, PartialEq, Eq)]
pub struct Merged {
    pub sql: String,
    pub offsets: (u64, u64),
}

/// The statements of `txns` (log offset, plan; in log order) as one
/// transaction's, a merged `REPLACE` kept under `max_statement` bytes.
pub fn merge<'a>(
    txns: impl IntoIterator<Item = (u64, &'a [Statement])>,
    max_statement: usize,
) -> Vec<Merged> {
    let mut out: Vec<Merged> = Vec::new();
    // Per table: the index in `out` of its last statement and, when that
    // is a REPLACE, its head.
    let mut last: HashMap<&'a str, (usize, Option<&'a str>)> = HashMap::new();
    for (offset, plan) in txns {
        for statement in plan {
            let (table, head) = match &statement.rows {
                Rows::Fence => {
                    last.clear();
                    out.push(Merged {
                        sql: statement.sql.clone(),
                        offsets: (offset, offset),
                    });
                    continue;
                }
                Rows::Table(table) => (table.as_str(), None),
                Rows::Replace { table, head } => (table.as_str(), statement.sql.get(..*head)),
            };
            if let (Some(head), Some(&(i, Some(before)))) = (head, last.get(table)) {
                let tuples = &statement.sql[head.len()..];
                let joined = &mut out[i];
                if before == head && joined.sql.len() + 2 + tuples.len() <= max_statement {
                    joined.sql.push_str(", ");
                    joined.sql.push_str(tuples);
                    joined.offsets.1 = offset;
                    continue;
                }
            }
            last.insert(table, (out.len(), head));
            out.push(Merged {
                sql: statement.sql.clone(),
                offsets: (offset, offset),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(table: &str, tuples: &str) -> Statement {
        let head = format!("REPLACE INTO {table} (`id`, `a`) VALUES ");
        Statement {
            sql: format!("{head}{tuples}"),
            ddl: false,
            rows: Rows::Replace {
                table: table.into(),
                head: head.len(),
            },
        }
    }

    fn delete(table: &str, id: u32) -> Statement {
        Statement {
            sql: format!("DELETE FROM {table} WHERE `id` = {id}"),
            ddl: false,
            rows: Rows::Table(table.into()),
        }
    }

    fn sql(merged: &[Merged]) -> Vec<&str> {
        merged.iter().map(|m| m.sql.as_str()).collect()
    }

    #[test]
    fn replaces_of_a_table_join_across_transactions() {
        let plans = [
            vec![replace("t1", "(1, 'a')")],
            vec![replace("t2", "(1, 'b')")],
            vec![replace("t1", "(2, 'c')"), replace("t2", "(2, 'd')")],
        ];
        let merged = merge(
            plans
                .iter()
                .enumerate()
                .map(|(i, p)| (i as u64 + 10, &p[..])),
            1 << 20,
        );
        assert_eq!(
            sql(&merged),
            [
                "REPLACE INTO t1 (`id`, `a`) VALUES (1, 'a'), (2, 'c')",
                "REPLACE INTO t2 (`id`, `a`) VALUES (1, 'b'), (2, 'd')",
            ]
        );
        assert_eq!(merged[0].offsets, (10, 12));
    }

    #[test]
    fn a_table_keeps_its_order_and_fences_hold() {
        let fence = Statement {
            sql: "USE db".into(),
            ddl: false,
            rows: Rows::Fence,
        };
        let plans = [
            vec![replace("t1", "(1, 'a')")],
            // A delete of t1 between two REPLACEs of t1: the second may
            // not join the first (it would run before the delete).
            vec![delete("t1", 1), replace("t2", "(5, 'x')")],
            vec![replace("t1", "(1, 'b')")],
            vec![fence, replace("t2", "(6, 'y')")],
        ];
        let merged = merge(plans.iter().map(|p| (1, &p[..])), 1 << 20);
        assert_eq!(
            sql(&merged),
            [
                "REPLACE INTO t1 (`id`, `a`) VALUES (1, 'a')",
                "DELETE FROM t1 WHERE `id` = 1",
                "REPLACE INTO t2 (`id`, `a`) VALUES (5, 'x')",
                "REPLACE INTO t1 (`id`, `a`) VALUES (1, 'b')",
                "USE db",
                "REPLACE INTO t2 (`id`, `a`) VALUES (6, 'y')",
            ]
        );
    }

    #[test]
    fn a_merged_statement_stays_under_the_limit() {
        let plans: Vec<Vec<Statement>> = (0..10)
            .map(|i| vec![replace("t", &format!("({i}, 'v')"))])
            .collect();
        let one = plans[0][0].sql.len();
        let merged = merge(plans.iter().map(|p| (1, &p[..])), one + 2 * 10);
        assert!(merged.len() > 1);
        assert!(merged.iter().all(|m| m.sql.len() <= one + 2 * 10));
        let rows: usize = merged.iter().map(|m| m.sql.matches("'v'").count()).sum();
        assert_eq!(rows, 10);
    }
}
