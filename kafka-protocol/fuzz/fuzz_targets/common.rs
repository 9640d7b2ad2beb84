// Shared by the message fuzz targets: choose an API and version from the first two bytes.
use kafka_protocol::messages::ApiKey;

pub fn pick(data: &[u8]) -> Option<(ApiKey, i16, &[u8])> {
    if data.len() < 2 {
        return None;
    }
    let api = ApiKey::ALL[data[0] as usize % ApiKey::ALL.len()];
    let r = api.versions();
    let span = (r.max - r.min + 1).max(1) as u8;
    let version = r.min + (data[1] % span) as i16;
    Some((api, version, &data[2..]))
}
