//! Python objects ⇄ [`oxsio::Value`]: JSON types plus `bytes` anywhere.

use bytes::Bytes;
use oxsio::{Args, Map, Value};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};

/// Deepest nesting accepted (also stops self-referencing containers).
const MAX_DEPTH: usize = 256;

/// Converts one Python object.
///
/// # Errors
/// `TypeError` for unsupported types or non-`str` dict keys; `ValueError`
/// for NaN/infinite floats, integers beyond 64 bits, or nesting deeper
/// than 256 levels.
pub fn to_value(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    convert(obj, 0)
}

/// Converts an argument list (a `list` or `tuple` of values).
///
/// # Errors
/// As [`to_value`], and `TypeError` if `args` is not a list or tuple.
pub fn to_args(args: &Bound<'_, PyAny>) -> PyResult<Args> {
    if let Ok(list) = args.cast::<PyList>() {
        list.iter().map(|o| convert(&o, 1)).collect()
    } else if let Ok(tuple) = args.cast::<PyTuple>() {
        tuple.iter().map(|o| convert(&o, 1)).collect()
    } else {
        Err(PyTypeError::new_err(format!(
            "arguments must be a list or tuple, not {}",
            type_name(args)
        )))
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn convert(obj: &Bound<'_, PyAny>, depth: usize) -> PyResult<Value> {
    if depth > MAX_DEPTH {
        return Err(PyValueError::new_err(
            "payload nested too deeply (or it contains itself)",
        ));
    }
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    // bool before int: bool is a subclass of int.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        if let Ok(v) = i.extract::<i64>() {
            return Ok(Value::from(v));
        }
        if let Ok(v) = i.extract::<u64>() {
            return Ok(Value::from(v));
        }
        return Err(PyValueError::new_err(
            "integer out of range: only 64-bit integers can be sent",
        ));
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{v} cannot be sent (not valid JSON)")));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut map = Map::with_capacity(d.len());
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!("dict keys must be str, not {}", type_name(&k)))
            })?;
            map.insert(key.to_cow()?.into_owned(), convert(&v, depth + 1)?);
        }
        return Ok(Value::Object(map));
    }
    if let Ok(l) = obj.cast::<PyList>() {
        return l
            .iter()
            .map(|o| convert(&o, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(t) = obj.cast::<PyTuple>() {
        return t
            .iter()
            .map(|o| convert(&o, depth + 1))
            .collect::<PyResult<Vec<_>>>()
            .map(Value::Array);
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Binary(Bytes::copy_from_slice(b.as_bytes())));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Value::Binary(Bytes::from(b.to_vec())));
    }
    if obj.cast::<PyMemoryView>().is_ok() {
        let b: Vec<u8> = obj.call_method0("tobytes")?.extract()?;
        return Ok(Value::Binary(Bytes::from(b)));
    }
    Err(PyTypeError::new_err(format!(
        "cannot send an object of type {}: use dict, list, tuple, str, int, float, bool, None or bytes",
        type_name(obj)
    )))
}

/// Converts a value to Python (`bytes` for buffers, `dict` in order).
pub fn to_py<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_pyobject(py)?.into_any()
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                PyFloat::new(py, n.as_f64().unwrap_or(f64::NAN)).into_any()
            }
        }
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Binary(b) => PyBytes::new(py, b).into_any(),
        Value::Array(a) => {
            let items = a
                .iter()
                .map(|x| to_py(py, x))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)?.into_any()
        }
        Value::Object(o) => {
            let d = PyDict::new(py);
            for (k, x) in o {
                d.set_item(k, to_py(py, x)?)?;
            }
            d.into_any()
        }
    })
}

/// Converts an argument list to a Python `list`.
pub fn args_to_py<'py>(py: Python<'py>, args: &[Value]) -> PyResult<Bound<'py, PyList>> {
    let items = args
        .iter()
        .map(|x| to_py(py, x))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}
