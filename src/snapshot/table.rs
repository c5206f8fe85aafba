//! One table's snapshot plan: the key it is chunked by and the SQL that
//! reads a chunk.
//!
//! The key is the primary key, else the first unique key whose columns
//! are all NOT NULL (what InnoDB would cluster by). Chunks are key ranges
//! read in key order with keyset pagination: `WHERE key > last ORDER BY
//! key LIMIT n`, the tuple comparison spelt out (`a > x OR (a = x AND b >
//! y)`) so the optimizer reads it as a range scan on the index.

use super::text;
use crate::proto::{Column, TableSchema, Value};
use crate::schema::catalog::quote_literal;

/// Which key `information_schema` rows for a table name. Columns:
/// INDEX_NAME, COLUMN_NAME, NON_UNIQUE, NULLABLE, in index and sequence order.
pub fn keys_sql(schema: &str, table: &str) -> String {
    format!(
        "SELECT INDEX_NAME, COLUMN_NAME, NON_UNIQUE, NULLABLE FROM information_schema.STATISTICS \
         WHERE TABLE_SCHEMA = {} AND TABLE_NAME = {} \
         ORDER BY INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX",
        quote_literal(schema),
        quote_literal(table)
    )
}

/// The key to chunk by, from [`keys_sql`]'s rows: column names, or `None`
/// when the table has no primary key and no unique NOT NULL key.
pub fn choose_key(rows: &[Vec<Option<String>>]) -> Option<Vec<String>> {
    let mut indexes: Vec<(String, Vec<String>, bool)> = Vec::new();
    for row in rows {
        let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        let (index, column) = (cell(0), cell(1));
        let usable = cell(2) == "0" && cell(3) != "YES";
        match indexes.last_mut() {
            Some((name, columns, ok)) if *name == index => {
                columns.push(column);
                *ok &= usable;
            }
            _ => indexes.push((index, vec![column], usable)),
        }
    }
    indexes
        .into_iter()
        .find(|(_, _, ok)| *ok)
        .map(|(_, columns, _)| columns)
}

/// `name` as an identifier: `` `a``b` ``.
pub fn ident(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A table ready to be read.
#[derive(Clone, Debug)]
pub struct Plan {
    pub schema: TableSchema,
    /// Ordinal positions of the key columns (empty: read whole).
    pub key: Vec<usize>,
}

impl Plan {
    pub fn key_names(&self) -> Vec<String> {
        self.key
            .iter()
            .filter_map(|&i| self.schema.columns.get(i).map(|c| c.name.clone()))
            .collect()
    }

    fn from(&self) -> String {
        format!(
            "{}.{}",
            ident(&self.schema.schema),
            ident(&self.schema.table)
        )
    }

    fn select_list(&self) -> String {
        self.schema
            .columns
            .iter()
            .map(|c| text::select_expr(c, &ident(&c.name)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The whole table in one statement (a table without a usable key),
    /// its rows meeting `condition` (SQL; empty: all).
    pub fn whole_sql(&self, condition: &str) -> String {
        let mut sql = format!("SELECT {} FROM {}", self.select_list(), self.from());
        if !condition.is_empty() {
            sql.push_str(&format!(" WHERE ({condition})"));
        }
        sql
    }

    /// The next `limit` rows after `after` (the last key read; `None`:
    /// from the start) meeting `condition` (SQL; empty: all), in key order.
    pub fn chunk_sql(
        &self,
        after: Option<&[Value]>,
        condition: &str,
        limit: u64,
    ) -> Result<String, String> {
        let names: Vec<String> = self.key_names().iter().map(|n| ident(n)).collect();
        let mut sql = format!("SELECT {} FROM {}", self.select_list(), self.from());
        let mut conditions = Vec::new();
        if !condition.is_empty() {
            conditions.push(format!("({condition})"));
        }
        if let Some(after) = after {
            let literals = after
                .iter()
                .zip(&self.key)
                .map(|(v, &i)| literal(v, &self.schema.columns[i]))
                .collect::<Result<Vec<_>, _>>()?;
            let mut ors = Vec::new();
            for i in 0..names.len() {
                let mut ands: Vec<String> = (0..i)
                    .map(|j| format!("{} = {}", names[j], literals[j]))
                    .collect();
                ands.push(format!("{} > {}", names[i], literals[i]));
                ors.push(format!("({})", ands.join(" AND ")));
            }
            conditions.push(format!("({})", ors.join(" OR ")));
        }
        if !conditions.is_empty() {
            sql.push_str(&format!(" WHERE {}", conditions.join(" AND ")));
        }
        sql.push_str(&format!(" ORDER BY {} LIMIT {limit}", names.join(", ")));
        Ok(sql)
    }
}

/// A key value as an SQL literal for the chunk's WHERE.
fn literal(value: &Value, column: &Column) -> Result<String, String> {
    use crate::proto::value::Kind;
    Ok(match &value.kind {
        Some(Kind::Int(i)) => i.to_string(),
        Some(Kind::Uint(u)) => u.to_string(),
        Some(Kind::Decimal(s) | Kind::Date(s) | Kind::Time(s) | Kind::Datetime(s)) => {
            quote_literal(s)
        }
        Some(Kind::Text(s)) => quote_literal(s),
        Some(Kind::Bytes(b)) => {
            if b.is_empty() {
                "''".into()
            } else {
                format!(
                    "0x{}",
                    b.iter().map(|x| format!("{x:02x}")).collect::<String>()
                )
            }
        }
        Some(Kind::Year(y)) => y.to_string(),
        Some(Kind::Enum(e)) => e.index.to_string(),
        Some(Kind::Timestamp(t)) => format!("FROM_UNIXTIME({}.{:06})", t.seconds, t.micros),
        other => {
            return Err(format!(
                "column {} cannot key a snapshot chunk (its value {other:?})",
                column.name
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::value::Kind;

    fn row(index: &str, column: &str, non_unique: &str, nullable: &str) -> Vec<Option<String>> {
        [index, column, non_unique, nullable]
            .iter()
            .map(|s| Some(s.to_string()))
            .collect()
    }

    #[test]
    fn primary_key_first_then_a_unique_not_null_key() {
        let rows = vec![
            row("PRIMARY", "a", "0", ""),
            row("PRIMARY", "b", "0", ""),
            row("u", "c", "0", ""),
        ];
        assert_eq!(choose_key(&rows), Some(vec!["a".into(), "b".into()]));
        let rows = vec![
            row("n", "x", "0", "YES"),
            row("plain", "y", "1", ""),
            row("u", "c", "0", ""),
        ];
        assert_eq!(choose_key(&rows), Some(vec!["c".into()]));
        assert_eq!(choose_key(&[row("plain", "y", "1", "")]), None);
    }

    #[test]
    fn chunk_sql_spells_out_the_tuple_comparison() {
        let col = |name: &str, t: &str| Column {
            name: name.into(),
            mysql_type: t.into(),
            ..Default::default()
        };
        let plan = Plan {
            schema: TableSchema {
                schema: "d".into(),
                table: "t".into(),
                columns: vec![
                    col("k", "varchar(10)"),
                    col("n", "int(11)"),
                    col("v", "text"),
                ],
                ..Default::default()
            },
            key: vec![0, 1],
        };
        let after = [
            Value {
                kind: Some(Kind::Text("o'k".into())),
            },
            Value {
                kind: Some(Kind::Int(3)),
            },
        ];
        assert_eq!(
            plan.chunk_sql(Some(&after), "n < 5", 10).unwrap(),
            "SELECT `k`, `n`, `v` FROM `d`.`t` WHERE (n < 5) AND ((`k` > 'o''k') OR (`k` = 'o''k' AND `n` > 3)) \
             ORDER BY `k`, `n` LIMIT 10"
        );
    }
}
