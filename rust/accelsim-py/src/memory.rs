//! Binding of the memory system: `MemoryConfig` and the per-layer network simulation.

use crate::trace::TraceRecorder;
use crate::{detached, to_py, ArrayConfig};
use accelsim_core::dram::{DramConfig, DramPreset, DramStats, StatValue};
use accelsim_core::memory::{
    choose_tiling, simulate_conv_layer_traced, ActivationLayout, BufferConfig, ConvGeometry,
    DramCoreEnergy, DramModel, EnergyStats, EnergyTable, Layout, LoopOrder, MemStats,
    MemoryConfig as CoreMemory, Tiling,
};
use accelsim_core::{Error, Gemm, GemmStats};
use numpy::PyArray1;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// A validated, immutable memory system: scratchpads, accumulator, DRAM model, layout.
#[pyclass(frozen, module = "accelsim._core")]
#[derive(Clone)]
pub(crate) struct MemoryConfig {
    pub(crate) inner: CoreMemory,
    /// The bandwidth model's knobs, kept (and reported) whichever model is chosen.
    bandwidth: f64,
    latency: u64,
    freq_mhz: f64,
}

fn size(field: &str, v: i64) -> PyResult<u64> {
    u64::try_from(v).ok().filter(|&x| x > 0).ok_or_else(|| {
        to_py(Error::config(
            field,
            format!("{v} must be a positive number of bytes"),
        ))
    })
}

fn word(field: &str, v: i64) -> PyResult<u32> {
    u32::try_from(v).map_err(|_| {
        to_py(Error::config(
            field,
            format!("{v} is out of range; 1 to 16"),
        ))
    })
}

#[pymethods]
impl MemoryConfig {
    #[new]
    #[pyo3(signature = (*, ifmap_bytes=262144, filter_bytes=262144, ofmap_bytes=262144,
        ifmap_word_bytes=1, filter_word_bytes=1, ofmap_word_bytes=4, double_buffer=true,
        accumulator=true, output_bytes=1, dram="bandwidth", bandwidth=16.0, latency=100,
        ifmap_base=0, filter_base=1u64 << 32, ofmap_base=2u64 << 32,
        mac_pj=None, sram_pj_per_byte_8kib=None, dram_read_pj_per_byte=None,
        dram_write_pj_per_byte=None, dram_io_read_pj_per_bit=None,
        dram_io_write_pj_per_bit=None, ifmap_banks=0, filter_banks=0, ifmap_ports=1, filter_ports=1,
        freq_mhz=1000.0, dram_mapping=None, activation_layout="nhwc"))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        ifmap_bytes: i64,
        filter_bytes: i64,
        ofmap_bytes: i64,
        ifmap_word_bytes: i64,
        filter_word_bytes: i64,
        ofmap_word_bytes: i64,
        double_buffer: bool,
        accumulator: bool,
        output_bytes: i64,
        dram: &str,
        bandwidth: f64,
        latency: i64,
        ifmap_base: u64,
        filter_base: u64,
        ofmap_base: u64,
        mac_pj: Option<f64>,
        sram_pj_per_byte_8kib: Option<f64>,
        dram_read_pj_per_byte: Option<f64>,
        dram_write_pj_per_byte: Option<f64>,
        dram_io_read_pj_per_bit: Option<f64>,
        dram_io_write_pj_per_bit: Option<f64>,
        ifmap_banks: u32,
        filter_banks: u32,
        ifmap_ports: u32,
        filter_ports: u32,
        freq_mhz: f64,
        dram_mapping: Option<&str>,
        activation_layout: &str,
    ) -> PyResult<Self> {
        let activations = activation_layout
            .parse::<ActivationLayout>()
            .map_err(to_py)?;
        let buf =
            |name: &str, bytes: i64, w: i64, banks: u32, ports: u32| -> PyResult<BufferConfig> {
                Ok(BufferConfig {
                    double_buffered: double_buffer,
                    banks,
                    ports,
                    ..BufferConfig::new(
                        size(&format!("{name}.size"), bytes)?,
                        word(&format!("{name}.word_bytes"), w)?,
                    )
                })
            };
        let latency = u64::try_from(latency).map_err(|_| {
            to_py(Error::config(
                "latency",
                format!("{latency} must be >= 0 cycles"),
            ))
        })?;
        let name = dram.trim().to_ascii_lowercase();
        let dram = if name == "bandwidth" {
            if dram_mapping.is_some() {
                return Err(to_py(Error::config(
                    "dram_mapping",
                    "an address mapping needs a cycle-level DRAM model; valid choices: "
                        .to_string()
                        + &DramPreset::NAMES.join(", "),
                )));
            }
            DramModel::Bandwidth {
                bytes_per_cycle: bandwidth,
                latency,
            }
        } else {
            let mut cfg = DramConfig::preset(&name).map_err(|_| {
                to_py(Error::config(
                    "dram",
                    format!(
                        "unknown DRAM model '{dram}'; valid choices: bandwidth, {}",
                        DramPreset::NAMES.join(", ")
                    ),
                ))
            })?;
            if let Some(m) = dram_mapping {
                cfg = cfg.with_mapping(m).map_err(to_py)?;
            }
            DramModel::Cycle {
                config: Box::new(cfg),
                freq_mhz,
            }
        };
        // Energy: Horowitz's per-byte figures for the bandwidth model; a cycle-level preset's
        // currents and I/O energy, unless a per-byte figure is given (then a flat per-byte core
        // energy, the other direction at Horowitz's default).
        let d = EnergyTable::default();
        let base = match &dram {
            DramModel::Cycle { config, .. }
                if dram_read_pj_per_byte.is_none() && dram_write_pj_per_byte.is_none() =>
            {
                EnergyTable::for_dram(config)
            }
            DramModel::Cycle { config, .. } => EnergyTable {
                dram_io_read_pj_per_bit: config.power.io_read_pj_per_bit,
                dram_io_write_pj_per_bit: config.power.io_write_pj_per_bit,
                ..d
            },
            DramModel::Bandwidth { .. } => d,
        };
        let energy = EnergyTable {
            mac_pj: mac_pj.unwrap_or(base.mac_pj),
            sram_pj_per_byte_8kib: sram_pj_per_byte_8kib.unwrap_or(base.sram_pj_per_byte_8kib),
            dram_read_pj_per_byte: dram_read_pj_per_byte.unwrap_or(base.dram_read_pj_per_byte),
            dram_write_pj_per_byte: dram_write_pj_per_byte.unwrap_or(base.dram_write_pj_per_byte),
            dram_io_read_pj_per_bit: dram_io_read_pj_per_bit
                .unwrap_or(base.dram_io_read_pj_per_bit),
            dram_io_write_pj_per_bit: dram_io_write_pj_per_bit
                .unwrap_or(base.dram_io_write_pj_per_bit),
            dram_core: base.dram_core,
        };
        let inner = CoreMemory {
            ifmap: buf(
                "ifmap",
                ifmap_bytes,
                ifmap_word_bytes,
                ifmap_banks,
                ifmap_ports,
            )?,
            filter: buf(
                "filter",
                filter_bytes,
                filter_word_bytes,
                filter_banks,
                filter_ports,
            )?,
            ofmap: buf("ofmap", ofmap_bytes, ofmap_word_bytes, 0, 1)?,
            accumulator,
            output_bytes: word("output_bytes", output_bytes)?,
            dram,
            layout: Layout {
                ifmap_base,
                filter_base,
                ofmap_base,
                activations,
            },
            energy,
        };
        inner.validate().map_err(to_py)?;
        if !(freq_mhz.is_finite() && freq_mhz > 0.0) {
            return Err(to_py(Error::config(
                "freq_mhz",
                format!("{freq_mhz} must be a positive frequency in MHz"),
            )));
        }
        Ok(MemoryConfig {
            inner,
            bandwidth,
            latency,
            freq_mhz,
        })
    }

    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.inner;
        let d = PyDict::new(py);
        d.set_item("ifmap_bytes", c.ifmap.size_bytes)?;
        d.set_item("filter_bytes", c.filter.size_bytes)?;
        d.set_item("ofmap_bytes", c.ofmap.size_bytes)?;
        d.set_item("ifmap_word_bytes", c.ifmap.word_bytes)?;
        d.set_item("filter_word_bytes", c.filter.word_bytes)?;
        d.set_item("ofmap_word_bytes", c.ofmap.word_bytes)?;
        d.set_item("double_buffer", c.ifmap.double_buffered)?;
        d.set_item("ifmap_banks", c.ifmap.banks)?;
        d.set_item("filter_banks", c.filter.banks)?;
        d.set_item("ifmap_ports", c.ifmap.ports)?;
        d.set_item("filter_ports", c.filter.ports)?;
        d.set_item("accumulator", c.accumulator)?;
        d.set_item("output_bytes", c.output_bytes)?;
        match &c.dram {
            DramModel::Bandwidth { .. } => {
                d.set_item("dram", "bandwidth")?;
                d.set_item("dram_mapping", py.None())?;
            }
            DramModel::Cycle { config, .. } => {
                d.set_item("dram", config.preset.name())?;
                d.set_item("dram_mapping", config.mapping.name())?;
            }
        }
        d.set_item("bandwidth", self.bandwidth)?;
        d.set_item("latency", self.latency)?;
        d.set_item("freq_mhz", self.freq_mhz)?;
        d.set_item("ifmap_base", c.layout.ifmap_base)?;
        d.set_item("filter_base", c.layout.filter_base)?;
        d.set_item("ofmap_base", c.layout.ofmap_base)?;
        d.set_item("activation_layout", c.layout.activations.name())?;
        d.set_item("mac_pj", c.energy.mac_pj)?;
        d.set_item("sram_pj_per_byte_8kib", c.energy.sram_pj_per_byte_8kib)?;
        // None: the cycle-level DRAM's core energy comes from its currents.
        let per_byte = |v: f64| (c.energy.dram_core == DramCoreEnergy::PerByte).then_some(v);
        d.set_item(
            "dram_read_pj_per_byte",
            per_byte(c.energy.dram_read_pj_per_byte),
        )?;
        d.set_item(
            "dram_write_pj_per_byte",
            per_byte(c.energy.dram_write_pj_per_byte),
        )?;
        d.set_item("dram_io_read_pj_per_bit", c.energy.dram_io_read_pj_per_bit)?;
        d.set_item(
            "dram_io_write_pj_per_bit",
            c.energy.dram_io_write_pj_per_bit,
        )?;
        Ok(d)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!("MemoryConfig({})", self.to_dict(py)?.repr()?))
    }
}

/// A tiling as Python passes it: `(m_t, k_t, n_t, order)`.
type PyTiling = (i64, i64, i64, String);

fn tiling_of(t: Option<PyTiling>) -> PyResult<Option<Tiling>> {
    t.map(|(m, k, n, order)| {
        let dim = |name: &str, v: i64| {
            u64::try_from(v).map_err(|_| {
                to_py(Error::config(
                    &format!("tiling.{name}"),
                    format!("{v} must be a positive integer"),
                ))
            })
        };
        Ok(Tiling {
            m: dim("m", m)?,
            k: dim("k", k)?,
            n: dim("n", n)?,
            order: order.parse::<LoopOrder>().map_err(to_py)?,
        })
    })
    .transpose()
}

/// A convolution's geometry as Python passes it: `[images, c, h, w, p, q, r, s, stride_h,
/// stride_w, pad_top, pad_left, dilation_h, dilation_w]`, `c` per group.
type PyConv = Vec<u64>;

pub(crate) fn conv_of(v: &[u64]) -> PyResult<ConvGeometry> {
    let &[images, c, h, w, p, q, r, s, sh, sw, pt, pl, dh, dw] = v else {
        return Err(to_py(Error::workload(
            "convs",
            format!(
                "a convolution geometry has 14 integers (images, c, h, w, p, q, r, s, \
                 stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w); got {}",
                v.len()
            ),
        )));
    };
    Ok(ConvGeometry {
        images,
        c,
        h,
        w,
        p,
        q,
        r,
        s,
        stride: (sh, sw),
        pad: (pt, pl),
        dilation: (dh, dw),
    })
}

/// One value per layer: `fill` for each when not given, else exactly `n` of them; `err` makes
/// the error naming the field.
pub(crate) fn per_layer<T: Clone>(
    name: &str,
    v: Option<Vec<T>>,
    n: usize,
    fill: T,
    err: fn(&str, String) -> Error,
) -> PyResult<Vec<T>> {
    match v {
        None => Ok(vec![fill; n]),
        Some(v) if v.len() == n => Ok(v),
        Some(v) => Err(to_py(err(
            name,
            format!("{} entries for {n} layers", v.len()),
        ))),
    }
}

pub(crate) fn config_error(field: &str, message: String) -> Error {
    Error::config(field, message)
}

fn workload_error(field: &str, message: String) -> Error {
    Error::workload(field, message)
}

/// Each layer's convolution geometry (`PyConv`) or `None` for a plain GEMM.
pub(crate) fn convs_of(
    convs: Option<Vec<Option<PyConv>>>,
    n: usize,
) -> PyResult<Vec<Option<ConvGeometry>>> {
    per_layer("convs", convs, n, None, workload_error)?
        .iter()
        .map(|c| c.as_deref().map(conv_of).transpose())
        .collect()
}

pub(crate) fn gemms(shapes: &[(i64, i64, i64, i64)]) -> PyResult<Vec<Gemm>> {
    shapes
        .iter()
        .map(|&(m, k, n, g)| crate::gemm_of(m, k, n, g))
        .collect()
}

/// Simulate `(m, k, n, groups)` layers one after another with the memory system. `tilings`
/// gives each layer's `(m_t, k_t, n_t, order)` or `None` for the default chooser; `convs` each
/// layer's convolution geometry (`PyConv`) or `None` for a plain GEMM.
#[pyfunction]
#[pyo3(signature = (shapes, config, memory, tilings=None, convs=None, trace=None))]
fn simulate_memory_layers<'py>(
    py: Python<'py>,
    shapes: Vec<(i64, i64, i64, i64)>,
    config: &ArrayConfig,
    memory: &MemoryConfig,
    tilings: Option<Vec<Option<PyTiling>>>,
    convs: Option<Vec<Option<PyConv>>>,
    trace: Option<&Bound<'py, TraceRecorder>>,
) -> PyResult<Bound<'py, PyDict>> {
    let gemms = gemms(&shapes)?;
    let tilings: Vec<Option<Tiling>> =
        per_layer("tilings", tilings, gemms.len(), None, config_error)?
            .into_iter()
            .map(tiling_of)
            .collect::<PyResult<_>>()?;
    let convs = convs_of(convs, gemms.len())?;
    let (array, mem) = (config.inner, memory.inner.clone());
    let mut recording = trace.map(TraceRecorder::take).transpose()?;
    let results = detached(py, |cancel| {
        gemms
            .iter()
            .zip(&tilings)
            .zip(&convs)
            .map(|((g, t), c)| {
                simulate_conv_layer_traced(
                    &array,
                    &mem,
                    g,
                    c.as_ref(),
                    *t,
                    false,
                    cancel,
                    recording.as_mut(),
                )
            })
            .collect::<Result<Vec<_>, Error>>()
    });
    if let (Some(rec), Some(t)) = (trace, recording) {
        TraceRecorder::give_back(rec, t);
    }
    let results = results?;
    let d = PyDict::new(py);
    for (i, (name, _, _)) in GemmStats::CATALOG.iter().enumerate() {
        let col: Vec<i64> = results.iter().map(|r| r.array.values()[i] as i64).collect();
        d.set_item(*name, PyArray1::from_vec(py, col))?;
    }
    for (i, (name, _, _)) in MemStats::CATALOG.iter().enumerate() {
        let col: Vec<i64> = results.iter().map(|r| r.mem.values()[i] as i64).collect();
        d.set_item(*name, PyArray1::from_vec(py, col))?;
    }
    for (i, (name, _, _)) in EnergyStats::CATALOG.iter().enumerate() {
        let col: Vec<f64> = results.iter().map(|r| r.energy.values()[i]).collect();
        d.set_item(*name, PyArray1::from_vec(py, col))?;
    }
    // The cycle-level DRAM's statistics, prefixed `dram_`, when that model ran.
    if results.iter().all(|r| r.dram.is_some()) && !results.is_empty() {
        for (i, (name, _, _)) in DramStats::CATALOG.iter().enumerate() {
            let vals: Vec<StatValue> = results
                .iter()
                .map(|r| r.dram.unwrap().values()[i].1)
                .collect();
            let key = format!("dram_{name}");
            if vals.iter().all(|v| matches!(v, StatValue::Int(_))) {
                let col: Vec<i64> = vals
                    .iter()
                    .map(|v| match v {
                        StatValue::Int(x) => *x as i64,
                        StatValue::Float(x) => *x as i64,
                    })
                    .collect();
                d.set_item(key, PyArray1::from_vec(py, col))?;
            } else {
                let col: Vec<f64> = vals
                    .iter()
                    .map(|v| match v {
                        StatValue::Int(x) => *x as f64,
                        StatValue::Float(x) => *x,
                    })
                    .collect();
                d.set_item(key, PyArray1::from_vec(py, col))?;
            }
        }
    }
    let tcol = |f: &dyn Fn(&Tiling) -> u64| -> Vec<i64> {
        results.iter().map(|r| f(&r.tiling) as i64).collect()
    };
    d.set_item("tile_m", PyArray1::from_vec(py, tcol(&|t| t.m)))?;
    d.set_item("tile_k", PyArray1::from_vec(py, tcol(&|t| t.k)))?;
    d.set_item("tile_n", PyArray1::from_vec(py, tcol(&|t| t.n)))?;
    let orders: Vec<&str> = results.iter().map(|r| r.tiling.order.name()).collect();
    d.set_item("tile_order", orders)?;
    Ok(d)
}

/// The default tiling of one layer: `(m_t, k_t, n_t, order)`.
#[pyfunction]
#[pyo3(signature = (m, k, n, config, memory, groups=1))]
fn default_tiling(
    m: i64,
    k: i64,
    n: i64,
    config: &ArrayConfig,
    memory: &MemoryConfig,
    groups: i64,
) -> PyResult<(u64, u64, u64, &'static str)> {
    let g = crate::gemm_of(m, k, n, groups)?;
    let t = choose_tiling(&g, &config.inner, &memory.inner).map_err(to_py)?;
    Ok((t.m, t.k, t.n, t.order.name()))
}

/// Every memory-system and energy statistic as `(name, unit, description)`.
#[pyfunction]
fn memory_stat_catalog() -> Vec<(&'static str, &'static str, &'static str)> {
    MemStats::CATALOG
        .iter()
        .chain(EnergyStats::CATALOG)
        .copied()
        .collect()
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<MemoryConfig>()?;
    m.add("LOOP_ORDERS", PyTuple::new(py, LoopOrder::NAMES)?)?;
    m.add(
        "ACTIVATION_LAYOUTS",
        PyTuple::new(py, ActivationLayout::NAMES)?,
    )?;
    let models: Vec<&str> = std::iter::once("bandwidth")
        .chain(DramPreset::NAMES.iter().copied())
        .collect();
    m.add("DRAM_MODELS", PyTuple::new(py, models)?)?;
    m.add_function(wrap_pyfunction!(simulate_memory_layers, m)?)?;
    m.add_function(wrap_pyfunction!(default_tiling, m)?)?;
    m.add_function(wrap_pyfunction!(memory_stat_catalog, m)?)?;
    Ok(())
}
