package finlake.local;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermissions;
import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/**
 * Hadoop's local file system without its {@code .crc} side files, setting permissions with java.nio instead of
 * a {@code chmod} process.
 *
 * <p>Without Hadoop's native library (PySpark does not ship it), {@link RawLocalFileSystem} forks {@code chmod}
 * for every file and folder it creates: about 3 ms each, three times per partition a Spark job writes (its
 * folder, its file, the checksum file). This class sets the same permission bits with one system call, and
 * writes no checksum files (S3 holds none). It stays a {@link LocalFileSystem}, which
 * {@code FileSystem.getLocal} requires. Used by the local runner only ({@code finlake/local/glue.py}); Glue
 * writes to S3.
 */
public class NioLocalFileSystem extends LocalFileSystem {
  public NioLocalFileSystem() {
    super(new Raw());
    setWriteChecksum(false);
  }

  /** The raw file system underneath: Hadoop's, with {@code setPermission} through java.nio. */
  public static class Raw extends RawLocalFileSystem {
    @Override
    public void setPermission(Path path, FsPermission permission) throws IOException {
      // Hadoop has applied the umask already; the sticky bit, which java.nio cannot set, never arises here.
      String bits =
          permission.getUserAction().SYMBOL
              + permission.getGroupAction().SYMBOL
              + permission.getOtherAction().SYMBOL;
      Files.setPosixFilePermissions(pathToFile(path).toPath(), PosixFilePermissions.fromString(bits));
    }
  }
}
