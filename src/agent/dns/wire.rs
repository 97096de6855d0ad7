//! DNS messages in and out (hickory-proto for the wire format): a query for a cluster name is answered
//! from the zone, authoritatively, with a 5 s TTL (CoreDNS's `kubernetes` plugin's default); anything else
//! is for the upstream resolvers.

use std::str::FromStr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, SRV};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::zone::{Data, Kind, Lookup, Zone};

/// Seconds a client may cache a cluster answer.
pub const TTL: u32 = 5;

/// What to do with a request.
#[derive(Debug, PartialEq)]
pub enum Reply {
    /// These bytes go back to the client.
    Answer(Vec<u8>),
    /// Not a cluster name: forward the request as it came.
    Forward,
}

fn kind(t: RecordType) -> Kind {
    match t {
        RecordType::A => Kind::A,
        RecordType::SRV => Kind::Srv,
        _ => Kind::Other,
    }
}

fn error(request: &Message, code: ResponseCode) -> Reply {
    let mut reply = Message::error_msg(request.metadata.id, request.metadata.op_code, code);
    reply.metadata.recursion_desired = request.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.queries.clone_from(&request.queries);
    reply.to_vec().map(Reply::Answer).unwrap_or(Reply::Answer(Vec::new()))
}

/// The reply to one request; bytes that are not a DNS query get FORMERR when an id can be read.
pub fn respond(zone: &Zone, request: &[u8]) -> Reply {
    let Ok(query) = Message::from_vec(request) else {
        if request.len() >= 2 {
            let id = u16::from_be_bytes([request[0], request[1]]);
            let reply = Message::error_msg(id, OpCode::Query, ResponseCode::FormErr);
            return reply.to_vec().map(Reply::Answer).unwrap_or(Reply::Answer(Vec::new()));
        }
        return Reply::Answer(Vec::new());
    };
    if query.metadata.message_type != MessageType::Query || query.metadata.op_code != OpCode::Query {
        return error(&query, ResponseCode::NotImp);
    }
    let [question] = query.queries.as_slice() else { return error(&query, ResponseCode::FormErr) };
    let name = question.name().to_ascii();
    let (code, answers) = match zone.lookup(&name, kind(question.query_type())) {
        Lookup::NotOurs => return Reply::Forward,
        Lookup::NoSuchName => (ResponseCode::NXDomain, Vec::new()),
        Lookup::NoData => (ResponseCode::NoError, Vec::new()),
        Lookup::Found(found) => (ResponseCode::NoError, found),
    };
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.authoritative = true;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = code;
    reply.queries.clone_from(&query.queries);
    for (owner, data) in answers {
        let Ok(owner) = Name::from_str(&owner) else { continue };
        let rdata = match data {
            Data::A(ip) => RData::A(A(ip)),
            Data::Srv { priority, weight, port, target } => match Name::from_str(&target) {
                Ok(target) => RData::SRV(SRV::new(priority, weight, port, target)),
                Err(_) => continue,
            },
        };
        reply.add_answer(Record::from_rdata(owner, TTL, rdata));
    }
    match reply.to_vec() {
        Ok(bytes) => Reply::Answer(bytes),
        Err(_) => error(&query, ResponseCode::ServFail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;
    use serde_json::json;

    fn zone() -> Zone {
        let services = vec![json!({"metadata": {"namespace": "default", "name": "svc-1"},
            "spec": {"clusterIP": "10.96.0.20", "ports": [{"name": "http", "port": 9000, "protocol": "TCP"}]}})];
        Zone::build("cluster.local", &services, &[])
    }

    fn ask(name: &str, t: RecordType) -> Message {
        let mut q = Message::query();
        q.metadata.recursion_desired = true;
        q.add_query(Query::query(Name::from_str(name).unwrap(), t));
        match respond(&zone(), &q.to_vec().unwrap()) {
            Reply::Answer(bytes) => {
                let reply = Message::from_vec(&bytes).unwrap();
                assert_eq!(reply.metadata.id, q.metadata.id);
                assert_eq!(reply.queries, q.queries);
                reply
            }
            Reply::Forward => panic!("{name} forwarded"),
        }
    }

    #[test]
    fn cluster_names_are_answered_authoritatively() {
        let reply = ask("svc-1.default.svc.cluster.local.", RecordType::A);
        assert!(reply.metadata.authoritative);
        assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
        assert_eq!(reply.answers.len(), 1);
        assert_eq!(reply.answers[0].data, RData::A(A("10.96.0.20".parse().unwrap())));
        assert_eq!(reply.answers[0].ttl, TTL);
        let srv = ask("_http._tcp.svc-1.default.svc.cluster.local.", RecordType::SRV);
        let RData::SRV(record) = &srv.answers[0].data else { panic!("{srv:?}") };
        assert_eq!((record.port, record.target.to_ascii()), (9000, "svc-1.default.svc.cluster.local.".into()));
        assert_eq!(
            ask("nope.default.svc.cluster.local.", RecordType::A).metadata.response_code,
            ResponseCode::NXDomain
        );
        let aaaa = ask("svc-1.default.svc.cluster.local.", RecordType::AAAA);
        assert_eq!((aaaa.metadata.response_code, aaaa.answers.len()), (ResponseCode::NoError, 0));
    }

    #[test]
    fn other_names_are_forwarded_and_garbage_is_refused() {
        let mut q = Message::query();
        q.add_query(Query::query(Name::from_str("example.com.").unwrap(), RecordType::A));
        assert_eq!(respond(&zone(), &q.to_vec().unwrap()), Reply::Forward);
        let Reply::Answer(bytes) = respond(&zone(), &[0x12, 0x34, 0xff]) else { panic!() };
        let reply = Message::from_vec(&bytes).unwrap();
        assert_eq!((reply.metadata.id, reply.metadata.response_code), (0x1234, ResponseCode::FormErr));
    }
}
