//! The values both backends bind and read the same way: parameters ([`Param`], owned
//! [`Value`]s, and [`PgArg`], what PostgreSQL receives) and columns ([`Column`]).

use std::error::Error as StdError;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql as PgToSql, Type, to_sql_checked};
use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{StoreError, StoreResult};

/// A value bound to a statement. Implemented for `i64`, `f64`, `bool` (stored as 0/1),
/// text, bytes, [`Value`] and `Option`s of them: the types both engines store the same way.
pub trait Param: rusqlite::ToSql + Sync {
    fn pg(&self) -> PgArg<'_>;
}

impl Param for i64 {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Int(*self)
    }
}
impl Param for bool {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Int(i64::from(*self))
    }
}
impl Param for f64 {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Real(*self)
    }
}
impl Param for str {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Text(self)
    }
}
impl Param for String {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Text(self)
    }
}
impl Param for [u8] {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Blob(self)
    }
}
impl Param for Vec<u8> {
    fn pg(&self) -> PgArg<'_> {
        PgArg::Blob(self)
    }
}
impl<T: Param> Param for Option<T> {
    fn pg(&self) -> PgArg<'_> {
        self.as_ref().map_or(PgArg::Null, Param::pg)
    }
}
impl<T: Param + ?Sized> Param for &T {
    fn pg(&self) -> PgArg<'_> {
        (**self).pg()
    }
}

/// An owned value, for statements whose parameters are collected at run time.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

impl Param for Value {
    fn pg(&self) -> PgArg<'_> {
        match self {
            Value::Null => PgArg::Null,
            Value::Int(v) => PgArg::Int(*v),
            Value::Real(v) => PgArg::Real(*v),
            Value::Text(s) => PgArg::Text(s),
            Value::Blob(b) => PgArg::Blob(b),
        }
    }
}

/// A parameter as PostgreSQL receives it: integers fit whichever integer (or float) type
/// the server inferred for the placeholder.
#[derive(Debug)]
pub enum PgArg<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl PgToSql for PgArg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            PgArg::Null => Ok(IsNull::Yes),
            PgArg::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::BOOL => (*v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().as_str().to_sql(ty, out),
                _ => Err(format!("an integer cannot be stored as {ty}").into()),
            },
            PgArg::Real(v) => match *ty {
                Type::FLOAT8 => v.to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => Err(format!("a number cannot be stored as {ty}").into()),
            },
            PgArg::Text(s) => s.to_sql(ty, out),
            PgArg::Blob(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A type a column can be read as, on both backends.
pub trait Column: Sized {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self>;
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self>;
}

fn pg_type(row: &postgres::Row, idx: usize) -> StoreResult<&Type> {
    row.columns()
        .get(idx)
        .map(|c| c.type_())
        .ok_or_else(|| StoreError::Decode(format!("no column {idx}")))
}

fn pg_int(row: &postgres::Row, idx: usize) -> StoreResult<Option<i64>> {
    Ok(match *pg_type(row, idx)? {
        Type::INT8 => row.try_get::<_, Option<i64>>(idx)?,
        Type::INT4 => row.try_get::<_, Option<i32>>(idx)?.map(i64::from),
        Type::INT2 => row.try_get::<_, Option<i16>>(idx)?.map(i64::from),
        Type::BOOL => row.try_get::<_, Option<bool>>(idx)?.map(i64::from),
        ref other => {
            return Err(StoreError::Decode(format!(
                "column {idx} is {other}, not an integer"
            )));
        }
    })
}

fn pg_real(row: &postgres::Row, idx: usize) -> StoreResult<Option<f64>> {
    Ok(match *pg_type(row, idx)? {
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(idx)?,
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(idx)?.map(f64::from),
        _ => pg_int(row, idx)?.map(|v| v as f64),
    })
}

fn missing(idx: usize) -> StoreError {
    StoreError::Decode(format!("column {idx} is NULL"))
}

impl Column for i64 {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        pg_int(row, idx)?.ok_or_else(|| missing(idx))
    }
}
impl Column for Option<i64> {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        pg_int(row, idx)
    }
}
impl Column for bool {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        Ok(row.get::<_, i64>(idx)? != 0)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        Ok(pg_int(row, idx)?.ok_or_else(|| missing(idx))? != 0)
    }
}
impl Column for f64 {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        pg_real(row, idx)?.ok_or_else(|| missing(idx))
    }
}
impl Column for Option<f64> {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        pg_real(row, idx)
    }
}
impl Column for String {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        Ok(row.try_get(idx)?)
    }
}
impl Column for Option<String> {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        Ok(row.try_get(idx)?)
    }
}
impl Column for Vec<u8> {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        Ok(row.try_get(idx)?)
    }
}
impl Column for Option<Vec<u8>> {
    fn from_sqlite(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<Self> {
        row.get(idx)
    }
    fn from_pg(row: &postgres::Row, idx: usize) -> StoreResult<Self> {
        Ok(row.try_get(idx)?)
    }
}
