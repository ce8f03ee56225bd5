//! The device's own services over D-Bus (NetworkManager, UPower, logind): one connection to the
//! system bus, properties read on demand, and a wait for their change signals.
//!
//! The bus is the system bus unless the setting `AREA_COMPUTER_SYSTEM_BUS` names another address
//! (tests run mock services on a private bus). The connection is opened on first use and opened
//! again after a failure. On systems without D-Bus every call says so.

use std::time::Duration;

use crate::connector::{ConnectorError, SourceWait};

/// One property value, as the device triggers read them.
#[derive(Debug, Clone, PartialEq)]
pub enum Prop {
    Bool(bool),
    U32(u32),
    F64(f64),
}

impl Prop {
    /// The value as a number (booleans as 0/1), for the triggers' comparisons.
    pub fn number(&self) -> f64 {
        match self {
            Prop::Bool(b) => f64::from(u8::from(*b)),
            Prop::U32(n) => f64::from(*n),
            Prop::F64(x) => *x,
        }
    }
}

/// Where a property lives: the service owning it, its object and interface.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// What the user knows the service as, for errors ("NetworkManager").
    pub name: &'static str,
    pub destination: &'static str,
    pub path: &'static str,
    pub interface: &'static str,
}

fn unavailable(source: &Source, why: String) -> ConnectorError {
    ConnectorError::BadResponse { service: super::ID.into(), message: format!("{} cannot be read: {why}", source.name) }
}

#[cfg(target_os = "linux")]
pub use linux::Bus;

#[cfg(target_os = "linux")]
mod linux {
    use super::*;
    use futures_util::StreamExt;
    use zbus::zvariant::OwnedValue;

    /// A lazily opened system-bus connection (see the module doc).
    pub struct Bus {
        address: Option<String>,
        connection: tokio::sync::Mutex<Option<zbus::Connection>>,
    }

    impl Bus {
        /// The system bus, or the bus at `address`.
        pub fn new(address: Option<String>) -> Bus {
            Bus { address, connection: tokio::sync::Mutex::new(None) }
        }

        async fn connection(&self, source: &Source) -> Result<zbus::Connection, ConnectorError> {
            let mut held = self.connection.lock().await;
            if let Some(connection) = held.as_ref() {
                return Ok(connection.clone());
            }
            let builder = match &self.address {
                Some(address) => zbus::connection::Builder::address(address.as_str()),
                None => zbus::connection::Builder::system(),
            };
            let connection = match builder {
                Ok(builder) => builder.build().await,
                Err(e) => Err(e),
            }
            .map_err(|e| unavailable(source, format!("the system's message bus (D-Bus) is not reachable ({e})")))?;
            *held = Some(connection.clone());
            Ok(connection)
        }

        async fn forget(&self) {
            *self.connection.lock().await = None;
        }

        async fn properties(&self, source: &Source) -> Result<zbus::fdo::PropertiesProxy<'static>, ConnectorError> {
            let connection = self.connection(source).await?;
            let built = async {
                zbus::fdo::PropertiesProxy::builder(&connection)
                    .destination(source.destination)?
                    .path(source.path)?
                    .cache_properties(zbus::proxy::CacheProperties::No)
                    .build()
                    .await
            }
            .await;
            built.map_err(|e| unavailable(source, e.to_string()))
        }

        /// Reads one property of `source`.
        pub async fn property(&self, source: &Source, name: &'static str) -> Result<Prop, ConnectorError> {
            let proxy = self.properties(source).await?;
            let interface = zbus::names::InterfaceName::try_from(source.interface)
                .map_err(|e| unavailable(source, e.to_string()))?;
            let value = match proxy.get(interface, name).await {
                Ok(value) => value,
                Err(e) => {
                    if matches!(e, zbus::fdo::Error::ZBus(_)) {
                        self.forget().await;
                    }
                    return Err(unavailable(source, explain(&e)));
                }
            };
            to_prop(value).ok_or_else(|| unavailable(source, format!("its {name} is not a number or a yes/no")))
        }

        /// Subscribes to `source`'s property changes, then calls `check` (which compares the
        /// current state with the cursor, closing the race with a change made just before the
        /// subscription) and waits at most `max_wait` for a change signal.
        pub async fn wait_for_change<F, Fut>(
            &self,
            source: &Source,
            max_wait: Duration,
            check: F,
        ) -> Result<SourceWait, ConnectorError>
        where
            F: FnOnce() -> Fut,
            Fut: std::future::Future<Output = Result<bool, ConnectorError>>,
        {
            let proxy = self.properties(source).await?;
            let mut changes =
                proxy.receive_properties_changed().await.map_err(|e| unavailable(source, e.to_string()))?;
            if check().await? {
                return Ok(SourceWait::Changed);
            }
            loop {
                match tokio::time::timeout(max_wait, changes.next()).await {
                    Err(_) => return Ok(SourceWait::Quiet),
                    Ok(None) => {
                        self.forget().await;
                        return Err(unavailable(source, "the message bus closed the connection".into()));
                    }
                    Ok(Some(signal)) => {
                        let about_interface =
                            signal.args().is_ok_and(|a| a.interface_name.as_str() == source.interface);
                        if about_interface {
                            return Ok(SourceWait::Changed);
                        }
                    }
                }
            }
        }
    }

    fn to_prop(value: OwnedValue) -> Option<Prop> {
        if let Ok(b) = bool::try_from(&value) {
            return Some(Prop::Bool(b));
        }
        if let Ok(n) = u32::try_from(&value) {
            return Some(Prop::U32(n));
        }
        f64::try_from(&value).ok().map(Prop::F64)
    }

    /// Says "not running" for the usual case of a service missing from this computer.
    fn explain(e: &zbus::fdo::Error) -> String {
        match e {
            zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_) => {
                "it is not running on this computer".into()
            }
            other => other.to_string(),
        }
    }
}

/// Elsewhere the device's services are not D-Bus services: every call says so.
#[cfg(not(target_os = "linux"))]
pub struct Bus;

#[cfg(not(target_os = "linux"))]
impl Bus {
    pub fn new(_address: Option<String>) -> Bus {
        Bus
    }

    pub async fn property(&self, source: &Source, _name: &'static str) -> Result<Prop, ConnectorError> {
        Err(unavailable(source, "this trigger needs Linux (its services answer over D-Bus)".into()))
    }

    pub async fn wait_for_change<F, Fut>(
        &self,
        _source: &Source,
        _max_wait: Duration,
        _check: F,
    ) -> Result<SourceWait, ConnectorError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<bool, ConnectorError>>,
    {
        Ok(SourceWait::Unsupported)
    }
}
