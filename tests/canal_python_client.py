"""Drives sluice's Canal server with the canal-python client from PyPI,
unchanged. Prints one line `RESULT <json>` with what it saw.

usage: canal_python_client.py HOST PORT DESTINATION CLIENT_ID FILTER USER PASSWORD WANT
"""
import json
import sys

from canal.client import Client
from canal.protocol import EntryProtocol_pb2


def rows_of(message):
    out = []
    for entry in message['entries']:
        if entry.entryType in (EntryProtocol_pb2.EntryType.TRANSACTIONBEGIN,
                               EntryProtocol_pb2.EntryType.TRANSACTIONEND):
            out.append([EntryProtocol_pb2.EntryType.Name(entry.entryType)])
            continue
        change = EntryProtocol_pb2.RowChange()
        change.MergeFromString(entry.storeValue)
        header = entry.header
        for row in change.rowDatas:
            out.append([
                'ROWDATA',
                header.schemaName,
                header.tableName,
                EntryProtocol_pb2.EventType.Name(header.eventType),
                {c.name: [c.value, c.sqlType, c.mysqlType, c.isKey, c.updated] for c in row.afterColumns},
            ])
    return out


def main():
    host, port, destination, client_id, filt, user, password, want = sys.argv[1:9]
    want = int(want)
    client = Client()
    client.connect(host=host, port=int(port))
    client.check_valid(username=user.encode(), password=password.encode())
    # subscribe() sends a rollback(0) first, before subscribing.
    client.subscribe(client_id=client_id.encode(), destination=destination.encode(), filter=filt.encode())

    first = client.get_without_ack(100)
    first_rows = rows_of(first)
    # Roll the first batch back: it must come again, the same.
    client.rollback(first['id'])
    again = client.get_without_ack(100)
    seen = rows_of(again)
    client.ack(again['id'])
    while sum(1 for r in seen if r[0] == 'ROWDATA') < want:
        message = client.get(100)  # get = get_without_ack + ack
        seen.extend(rows_of(message))
    client.disconnect()

    # Reconnect with the same client id: everything was acked.
    client = Client()
    client.connect(host=host, port=int(port))
    client.check_valid(username=user.encode(), password=password.encode())
    client.subscribe(client_id=client_id.encode(), destination=destination.encode(), filter=filt.encode())
    after = client.get_without_ack(100)
    client.disconnect()

    print('RESULT ' + json.dumps({
        'first_id': first['id'],
        'again_id': again['id'],
        'redelivered_same': first_rows == rows_of(again),
        'rows': seen,
        'after_reconnect': len(after['entries']),
    }))


if __name__ == '__main__':
    main()
